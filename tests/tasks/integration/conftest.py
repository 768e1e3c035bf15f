"""The tasks service over real HTTP, a real database and a real nats-server.

Tokens come from a stand-in issuer: an Ed25519 key whose JWKS is served over real HTTP on a
free port, so the service fetches and verifies keys exactly as it does from auth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import jwt
import nats
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.auth.jwks import public_jwk
from chore_common.contracts.envelope import Envelope
from chore_common.db import create_engine, session_factory
from chore_common.db.migrations import upgrade_head
from chore_common.testing.nats import NatsServer, free_port
from chore_tasks.adapters.uow import TasksUnitOfWork
from chore_tasks.app import MIGRATIONS, create_app
from chore_tasks.settings import TasksSettings

Client = TestClient[web.Request, web.Application]
ISSUER, AUDIENCE = "chore-auth", "chore-platform"


@dataclass
class User:
    id: UUID
    role: str
    token: str
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

    def user(self, role: str) -> User:
        user_id = uuid4()
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "sid": str(uuid4()),
            "role": role,
            "iat": now,
            "exp": now + 900,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "jti": str(uuid4()),
        }
        token = jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})
        return User(user_id, role, token)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(upgrade_head, database_url, MIGRATIONS)
    made = create_engine(database_url, pool_size=20)
    yield made
    await made.dispose()


@pytest.fixture
def uow(engine: AsyncEngine) -> Callable[[], TasksUnitOfWork]:
    sessions = session_factory(engine)
    return lambda: TasksUnitOfWork(sessions, producer="tasks")


@pytest.fixture
async def issuer() -> AsyncIterator[Issuer]:
    port = free_port()
    made = Issuer(f"http://127.0.0.1:{port}/auth/.well-known/jwks.json")

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(made.jwks())

    app = web.Application()
    app.router.add_get("/auth/.well-known/jwks.json", jwks)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield made
    await runner.cleanup()


@pytest.fixture
def tasks_settings(
    database_url: str, nats_server: NatsServer, tmp_path: Path, issuer: Issuer
) -> TasksSettings:
    return TasksSettings(
        database_url=database_url,
        nats_url=nats_server.url,
        var_dir=tmp_path,
        jwks_url=issuer.jwks_url,
        migrate_on_start=True,
        scheduler_poll_s=0.1,
        job_backoff_base_s=0.1,
        job_backoff_factor=2.0,
    )


@pytest.fixture
async def start_tasks(
    tasks_settings: TasksSettings,
) -> AsyncIterator[Callable[..., Awaitable[Client]]]:
    """Start a tasks app (optionally with changed settings) on a free port."""
    clients: list[Client] = []

    async def start(**changes: Any) -> Client:
        settings = tasks_settings.model_copy(update=changes)
        client: Client = TestClient(TestServer(create_app(settings), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in reversed(clients):
        await client.close()


@pytest.fixture
async def tasks(start_tasks: Callable[..., Awaitable[Client]]) -> Client:
    return await start_tasks()


async def task_events(
    nats_url: str, task_id: UUID, *, count: int, timeout_s: float = 10.0
) -> list[Envelope]:
    """The TASKS stream's events about `task_id`, in stream order, once `count` have arrived."""
    nc = await nats.connect(nats_url)
    found: list[Envelope] = []
    done = asyncio.Event()

    async def on_message(msg: Any) -> None:
        envelope = Envelope.from_bytes(msg.data)
        if envelope.data.get("task_id") == str(task_id):
            found.append(envelope)
            if len(found) >= count:
                done.set()

    try:
        sub = await nc.jetstream().subscribe("tasks.>", cb=on_message, ordered_consumer=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout_s)
        await sub.unsubscribe()
    finally:
        await nc.close()
    return found


def body_of(data: object) -> str:
    return json.dumps(data)
