"""The audit log, through the real gateway: each security action is recorded once, with the
client's own address (what the gateway forwards), never the gateway's. Done-when 7."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from chore_auth.adapters.tables import audit_log
from chore_common.db import create_engine
from chore_common.testing.apps import StartedApps
from chore_common.testing.nats import NatsServer
from chore_gateway.app import create_app as create_gateway
from chore_gateway.settings import GatewaySettings

from .helpers import PASSWORD, Account, Client, bearer, event_of, register, token_of

pytestmark = pytest.mark.db

CLIENT_IP = "198.51.100.23"
# The ingress in front of the gateway appends the client; a client's own header is a lie.
FROM_CLIENT = {"X-Forwarded-For": CLIENT_IP, "X-Real-IP": "10.6.6.6"}


@pytest.fixture
async def gateway(auth: Client, tmp_path: Path) -> AsyncIterator[Client]:
    started = StartedApps()
    settings = GatewaySettings(
        upstreams={"auth": [f"http://127.0.0.1:{auth.port}"]},
        var_dir=tmp_path / "gateway",
        trusted_proxies=["127.0.0.0/8"],  # the test client stands for the ingress
        health_interval_s=0.2,
        metrics_port=0,
    )
    client = await started.start(create_gateway(settings))
    deadline = time.monotonic() + 20
    while (await client.get("/readyz")).status != 200:
        assert time.monotonic() < deadline, "gateway never ready"
        await asyncio.sleep(0.1)
    try:
        yield client
    finally:
        await started.close()


async def call(gw: Client, method: str, path: str, **kw: Any) -> Any:
    headers = {**FROM_CLIENT, **kw.pop("headers", {})}
    resp = await gw.request(method, path, headers=headers, **kw)
    assert resp.status < 300, (path, resp.status, await resp.text())
    return await resp.json() if resp.status != 204 else None


async def log_in(gw: Client, account: Account) -> dict[str, Any]:
    body = {"email": account.email, "password": account.password}
    tokens: dict[str, Any] = await call(gw, "POST", "/auth/login", json=body)
    return tokens


async def test_every_security_action_is_audited_once_with_the_clients_address(
    auth: Client, gateway: Client, admin: dict[str, str], nats_server: NatsServer
) -> None:
    gw = gateway
    user = await register(auth)
    failed = await gw.post(
        "/auth/login", json={"email": user.email, "password": "wrong"}, headers=FROM_CLIENT
    )
    assert failed.status == 401
    tokens = await log_in(gw, user)
    headers = bearer(tokens["access_token"])
    new_password = "a brand new passphrase"
    body = {"current_password": PASSWORD, "new_password": new_password}
    await call(gw, "POST", "/auth/password", json=body, headers=headers)
    await call(gw, "POST", "/auth/password/forgot", json={"email": user.email})
    mails = await event_of(nats_server.url, "auth.user.password_reset_requested", user.id)
    reset = {"token": token_of(mails[0].data["link"]), "password": PASSWORD}
    await call(gw, "POST", "/auth/password/reset", json=reset)
    user.password = PASSWORD
    headers = bearer((await log_in(gw, user))["access_token"])
    body = {"email": "moved-" + user.email, "password": PASSWORD}
    await call(gw, "POST", "/auth/me/email", json=body, headers=headers)
    await call(gw, "POST", "/auth/logout", headers=headers)
    for move in ("suspend", "unsuspend", "ban"):
        path = f"/auth/admin/users/{user.id}/{move}"
        await call(gw, "POST", path, json={"reason": "test"}, headers=admin)

    page = await call(gw, "GET", f"/auth/admin/audit?target_id={user.id}&limit=100", headers=admin)
    actions = [e["action"] for e in reversed(page["items"])]
    assert actions == [
        "login_failed",
        "login_ok",
        "password_changed",
        "password_reset_requested",
        "password_reset",
        "login_ok",
        "email_changed",
        "session_revoked",
        "suspended",
        "unsuspended",
        "banned",
    ]
    assert {e["client_ip"] for e in page["items"]} == {CLIENT_IP}
    admin_entries = [e for e in page["items"] if e["action"] in ("suspended", "banned")]
    assert all(e["actor_id"] != user.id and e["detail"] == "test" for e in admin_entries)


async def test_the_audit_log_filters_and_pages_newest_first(
    auth: Client, admin: dict[str, str]
) -> None:
    user = await register(auth)
    for _ in range(5):
        body = {"email": user.email, "password": "wrong password"}
        assert (await auth.post("/auth/login", json=body)).status in (401, 429)
    seen: list[dict[str, Any]] = []
    query: dict[str, str] = {"target_id": user.id, "action": "login_failed", "limit": "2"}
    while True:
        page = await (await auth.get("/auth/admin/audit", params=query, headers=admin)).json()
        seen += page["items"]
        if page["next_cursor"] is None:
            break
        query["cursor"] = page["next_cursor"]
    assert len(seen) == len({e["id"] for e in seen}) >= 3
    assert [e["at"] for e in seen] == sorted((e["at"] for e in seen), reverse=True)
    assert {e["action"] for e in seen} == {"login_failed"}
    bad = await auth.get("/auth/admin/audit?action=nonsense", headers=admin)
    assert bad.status == 422


async def test_entries_older_than_a_year_are_purged_on_schedule(
    start_auth: Callable[..., Awaitable[Client]], database_url: str
) -> None:
    auth = await start_auth(audit_purge_every_s=0.2)
    now = datetime.now(UTC)
    old, kept = uuid.uuid4(), uuid.uuid4()
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            for entry_id, age in ((old, timedelta(days=366)), (kept, timedelta(days=364))):
                await conn.execute(
                    insert(audit_log).values(
                        id=entry_id, at=now - age, action="login_ok", client_ip="192.0.2.1"
                    )
                )
        deadline = time.monotonic() + 10
        while True:
            async with engine.connect() as conn:
                left = set((await conn.execute(select(audit_log.c.id))).scalars())
            if old not in left or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
    assert old not in left
    assert kept in left
    assert (await auth.get("/healthz")).status == 200
