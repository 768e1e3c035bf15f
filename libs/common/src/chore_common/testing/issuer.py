"""A stand-in for auth in tests: signs access tokens the way auth does and serves its JWKS.

async with serve_jwks() as issuer:          # real HTTP on a free port
    settings = TasksSettings(jwks_url=issuer.jwks_url, ...)
    alice = issuer.user("client")           # alice.token, alice.headers
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chore_common.auth.jwks import public_jwk
from chore_common.testing.nats import free_port

ISSUER, AUDIENCE = "chore-auth", "chore-platform"
JWKS_PATH = "/auth/.well-known/jwks.json"


@dataclass
class User:
    id: UUID
    role: str
    token: str
    session_id: UUID = field(default_factory=uuid4)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.token}"}


class Issuer:
    """Signs access tokens the way auth does (EdDSA, kid, iss, aud, sid, role)."""

    def __init__(self, url: str) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.kid = f"test-{uuid4().hex[:8]}"
        self.jwks_url = url

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.key.public_key(), self.kid)]}

    def user(
        self,
        role: str,
        *,
        user_id: UUID | None = None,
        session_id: UUID | None = None,
        ttl_s: float = 900,
        email_verified: bool = True,
    ) -> User:
        """A token for a new user (or `user_id`), in a new session (or `session_id`)."""
        user_id = user_id or uuid4()
        session_id = session_id or uuid4()
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "role": role,
            "iat": now,
            "exp": now + int(ttl_s),
            "iss": ISSUER,
            "aud": AUDIENCE,
            "jti": str(uuid4()),
            "ev": email_verified,
        }
        token = jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})
        return User(user_id, role, token, session_id)


@asynccontextmanager
async def serve_jwks() -> AsyncIterator[Issuer]:
    """An `Issuer` whose JWKS is served over real HTTP on a free port."""
    port = free_port()
    made = Issuer(f"http://127.0.0.1:{port}{JWKS_PATH}")

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(made.jwks())

    app = web.Application()
    app.router.add_get(JWKS_PATH, jwks)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield made
    finally:
        await runner.cleanup()
