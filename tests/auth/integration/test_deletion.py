"""Deleting one's account (password confirmed) and exporting auth's data about oneself.
Issue 25, done-when 5 (the auth side: tasks and messaging follow auth.user.deleted)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from chore_common.testing.apps import StartApp
from chore_common.testing.nats import NatsServer

from .helpers import PASSWORD, Client, bearer, event_of, login, register
from .sockets import close_code, sockets


def _stable(export: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in export.items() if k != "exported_at"}


pytestmark = pytest.mark.db


async def test_a_deleted_account_is_erased_and_cannot_come_back_in(
    auth: Client, start_messaging: StartApp, nats_server: NatsServer
) -> None:
    messaging = await start_messaging()
    account, other = await register(auth), await register(auth)
    first, second = await login(auth, account), await login(auth, account)
    headers = bearer(first["access_token"])
    await auth.patch("/auth/me/profile", json={"bio": "Hello", "city": "Oslo"}, headers=headers)
    other_headers = bearer((await login(auth, other))["access_token"])
    other_before = await (await auth.get("/auth/me/export", headers=other_headers)).json()

    export = await (await auth.get("/auth/me/export", headers=headers)).json()
    assert export["account"]["email"] == account.email
    assert export["account"]["bio"] == "Hello"
    listed = await (await auth.get("/auth/sessions", headers=headers)).json()
    assert {s["id"] for s in export["sessions"]} == {s["id"] for s in listed["items"]}
    assert len(export["sessions"]) == 2
    assert "login_ok" in {e["action"] for e in export["audit"]}
    assert "password_hash" not in str(export)

    wrong = await auth.request(
        "DELETE", "/auth/me", json={"password": "wrong one"}, headers=headers
    )
    assert wrong.status == 403
    async with sockets() as ws:
        sock = await ws.open(messaging, second["access_token"])
        resp = await auth.request(
            "DELETE", "/auth/me", json={"password": PASSWORD}, headers=headers
        )
        assert resp.status == 204
        assert await close_code(sock) == 4401

    for tokens in (first, second):
        assert (await auth.get("/auth/me", headers=bearer(tokens["access_token"]))).status == 401
    refused = await auth.post("/auth/login", json={"email": account.email, "password": PASSWORD})
    assert refused.status == 401
    assert (await auth.get(f"/auth/users/{account.id}")).status == 404
    [deleted] = await event_of(nats_server.url, "auth.user.deleted", account.id)
    assert deleted.data["user_id"] == account.id
    other_after = await (await auth.get("/auth/me/export", headers=other_headers)).json()
    assert _stable(other_after) == _stable(other_before)
    # The mailbox is free again: the same address can sign up afresh.
    assert (await register(auth, email=account.email)).id != account.id


async def test_the_erased_row_keeps_nothing_that_names_the_person(
    auth: Client, database_url: str
) -> None:
    from sqlalchemy import select

    from chore_auth.adapters.tables import account_tokens, users
    from chore_common.db import create_engine

    account = await register(auth)
    headers = bearer((await login(auth, account))["access_token"])
    patch = {"name": "Kim Real", "bio": "b", "city": "Rome", "skills": ["moving"]}
    await auth.patch("/auth/me/profile", json=patch, headers=headers)
    resp = await auth.request("DELETE", "/auth/me", json={"password": PASSWORD}, headers=headers)
    assert resp.status == 204
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.id == UUID(account.id)))).one()
            tokens = (
                await conn.execute(
                    select(account_tokens).where(account_tokens.c.user_id == UUID(account.id))
                )
            ).all()
    finally:
        await engine.dispose()
    assert row.email.endswith("@deleted.invalid")
    assert account.email not in str(row)
    assert (row.name, row.bio, row.city, row.skills, row.avatar_url) == (
        "Deleted user",
        "",
        "",
        [],
        None,
    )
    assert row.deleted_at is not None
    assert tokens == []  # the verification link mailed at sign-up is gone too
