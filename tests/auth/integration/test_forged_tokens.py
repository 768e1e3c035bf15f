"""S2 through the service: every forged or misissued token is a 401 on a bearer route."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chore_auth.keys import KEYRING
from chore_common.auth import thumbprint

from .helpers import Client, bearer, login, register

pytestmark = pytest.mark.db


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: dict[str, Any]) -> str:
    return b64(json.dumps(obj).encode())


async def forgeries(auth: Client) -> dict[str, str]:
    """A genuine token's claims, re-signed or altered in every way S2 lists."""
    account = await register(auth)
    genuine = (await login(auth, account))["access_token"]
    head, body, sig = genuine.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=="))
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    signing = auth.app[KEYRING].signing_key(datetime.now(UTC))
    public_raw = signing.public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    now = int(time.time())

    def real_key(**changes: Any) -> str:
        return jwt.encode(
            {**claims, **changes},
            signing.private,
            algorithm="EdDSA",
            headers={"kid": header["kid"]},
        )

    hs_head = segment({"alg": "HS256", "typ": "JWT", "kid": header["kid"]})
    hs_mac = hmac.new(public_raw, f"{hs_head}.{body}".encode(), hashlib.sha256).digest()
    stranger = Ed25519PrivateKey.generate()
    return {
        "alg none": f"{segment({'alg': 'none', 'typ': 'JWT', 'kid': header['kid']})}.{body}.",
        "HS256 with the public key": f"{hs_head}.{body}.{b64(hs_mac)}",
        "tampered payload": f"{head}.{segment({**claims, 'role': 'admin'})}.{sig}",
        "unknown kid": jwt.encode(
            claims, stranger, algorithm="EdDSA", headers={"kid": thumbprint(stranger.public_key())}
        ),
        "another key, known kid": jwt.encode(
            claims, stranger, algorithm="EdDSA", headers={"kid": header["kid"]}
        ),
        "expired": real_key(iat=now - 2000, exp=now - 1000),
        "wrong aud": real_key(aud="another-platform"),
        "wrong iss": real_key(iss="https://evil.example"),
        "not yet valid": real_key(nbf=now + 600),
        "no sid": jwt.encode(
            {k: v for k, v in claims.items() if k != "sid"},
            signing.private,
            algorithm="EdDSA",
            headers={"kid": header["kid"]},
        ),
        "random session": real_key(sid=str(uuid.uuid4())),
        "genuine": genuine,
    }


async def test_every_forged_token_is_refused_with_401(auth: Client) -> None:
    tokens = await forgeries(auth)
    genuine = tokens.pop("genuine")
    assert (await auth.get("/auth/me", headers=bearer(genuine))).status == 200
    refused = {}
    for name, token in tokens.items():
        resp = await auth.get("/auth/me", headers=bearer(token))
        body = await resp.json()
        refused[name] = (resp.status, resp.content_type, body["status"])
    assert refused == {name: (401, "application/problem+json", 401) for name in tokens}


async def test_forged_tokens_are_inactive_on_introspection(auth: Client) -> None:
    tokens = await forgeries(auth)
    tokens.pop("genuine")
    for name, token in tokens.items():
        resp = await auth.post("/auth/introspect", json={"token": token})
        assert await resp.json() == {"active": False}, name
