"""Admins suspend, unsuspend and ban: the account's sessions end (its sockets close on every
messaging replica within a second) and it cannot log in. Issue 25, done-when 6 (auth side)."""

from __future__ import annotations

import asyncio
import time

import pytest

from chore_common.testing.apps import StartApp
from chore_common.testing.nats import NatsServer

from .helpers import Client, bearer, event_of, login, register
from .sockets import close_code, sockets, still_open

pytestmark = pytest.mark.db


async def test_a_ban_closes_the_users_sockets_on_both_replicas_within_a_second(
    auth: Client, admin: dict[str, str], start_messaging: StartApp, nats_server: NatsServer
) -> None:
    a, b = await start_messaging(), await start_messaging()
    bad, bystander = await register(auth), await register(auth)
    first, second = await login(auth, bad), await login(auth, bad)
    spared_tokens = await login(auth, bystander)
    async with sockets() as ws:
        doomed = [
            await ws.open(a, first["access_token"]),
            await ws.open(b, first["access_token"]),
            await ws.open(b, second["access_token"]),
        ]
        spared = await ws.open(a, spared_tokens["access_token"])
        started = time.perf_counter()
        resp = await auth.post(
            f"/auth/admin/users/{bad.id}/ban", json={"reason": "spam"}, headers=admin
        )
        assert resp.status == 200, await resp.text()
        codes = await asyncio.gather(*(close_code(s) for s in doomed))
        elapsed = time.perf_counter() - started
        print(f"\nban: 3 sockets on 2 replicas closed {elapsed * 1000:.0f} ms after the ban")
        assert codes == [4401, 4401, 4401]
        assert elapsed < 1.0
        assert await still_open(spared)

    assert (await resp.json()) == {"id": bad.id, "status": "banned", "reason": "spam"}
    refused = await auth.post("/auth/login", json={"email": bad.email, "password": bad.password})
    assert refused.status == 403
    assert (await refused.json())["code"] == "account_banned"
    [changed] = await event_of(nats_server.url, "auth.user.status_changed", bad.id)
    assert (changed.data["status"], changed.data["reason"]) == ("banned", "spam")
    revoked = await event_of(nats_server.url, "auth.session.revoked", bad.id, 2)
    assert {r.data["reason"] for r in revoked} == {"admin"}


async def test_a_suspension_refuses_login_until_it_is_lifted(
    auth: Client, admin: dict[str, str]
) -> None:
    user = await register(auth)
    tokens = await login(auth, user)
    url = f"/auth/admin/users/{user.id}"
    assert (await auth.post(f"{url}/suspend", json={"reason": "r"}, headers=admin)).status == 200
    assert (await auth.get("/auth/me", headers=bearer(tokens["access_token"]))).status == 401
    body = {"email": user.email, "password": user.password}
    refused = await auth.post("/auth/login", json=body)
    assert refused.status == 403
    assert (await refused.json())["code"] == "account_suspended"
    wrong = await auth.post("/auth/login", json={**body, "password": "a wrong password"})
    assert wrong.status == 401  # the status is told only to whoever knows the password
    again = await auth.post(f"{url}/suspend", json={"reason": "r"}, headers=admin)
    assert again.status == 409
    assert (await again.json())["code"] == "invalid_transition"
    assert (await auth.post(f"{url}/unsuspend", json={"reason": "ok"}, headers=admin)).status == 200
    assert await login(auth, user)


async def test_only_admins_moderate_and_only_existing_users(
    auth: Client, admin: dict[str, str]
) -> None:
    user, other = await register(auth), await register(auth)
    headers = bearer((await login(auth, other))["access_token"])
    url = f"/auth/admin/users/{user.id}/ban"
    resp = await auth.post(url, json={"reason": "r"}, headers=headers)
    assert resp.status == 403
    assert (await resp.json())["code"] == "wrong_role"
    assert (await auth.get("/auth/admin/audit", headers=headers)).status == 403
    for missing in ("00000000-0000-4000-8000-000000000000", "nope"):
        resp = await auth.post(
            f"/auth/admin/users/{missing}/ban", json={"reason": "r"}, headers=admin
        )
        assert resp.status == 404
    assert (await auth.post(url, json={"reason": ""}, headers=admin)).status == 422
    assert await login(auth, user)  # nothing changed
