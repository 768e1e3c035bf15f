"""The gateway in front of the real auth service (database, NATS): a sign-up and login go
through, and auth sees the client's request id and address."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from chore_auth.app import create_app
from chore_auth.settings import AuthSettings
from chore_common.testing.nats import NatsServer, free_port

from .conftest import StartGateway

pytestmark = pytest.mark.db


async def test_sign_up_and_log_in_through_the_gateway(
    database_url: str, nats_server: NatsServer, tmp_path: Path, start_gateway: StartGateway
) -> None:
    settings = AuthSettings(
        database_url=database_url,
        nats_url=nats_server.url,
        var_dir=tmp_path,
        migrate_on_start=True,
        hash_threads=2,
        trust_forwarded_for=True,
    )
    auth = TestServer(create_app(settings), host="127.0.0.1", port=free_port())
    await auth.start_server()
    try:
        gw = await start_gateway({"auth": [f"http://127.0.0.1:{auth.port}"]})
        assert (await gw.get("/readyz")).status == 200

        email = f"gw-{uuid.uuid4().hex[:8]}@example.com"
        password = "correct horse battery"
        resp = await gw.post(
            "/auth/register",
            json={"email": email, "password": password, "name": "Pat", "role": "client"},
            headers={"X-Request-ID": "signup-through-gateway"},
        )
        assert resp.status == 201, await resp.text()
        assert resp.headers["X-Request-ID"] == "signup-through-gateway"

        resp = await gw.post("/auth/login", json={"email": email, "password": password})
        assert resp.status == 200
        tokens = await resp.json()
        resp = await gw.get(
            "/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert resp.status == 200
        assert (await resp.json())["email"] == email

        # The service's own problem+json errors pass through unchanged.
        resp = await gw.post("/auth/register", json={"email": "nope"})
        assert resp.status == 422
        assert resp.headers["Content-Type"].startswith("application/problem+json")

        doc = await (await gw.get("/docs/auth.json")).json()
        assert "/auth/register" in doc["paths"]
    finally:
        await auth.close()
