"""Refresh reuse grace: a retry gets the token the first refresh issued again, so a
session is one chain of refresh tokens however often (or however concurrently) a used token
is replayed inside the grace; outside it, the session ends."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from chore_auth.adapters.refresh_tokens import hash_refresh_token
from chore_auth.adapters.tables import refresh_tokens
from chore_common.db import create_engine

from .helpers import Client, bearer, login, register

pytestmark = pytest.mark.db


async def refresh(auth: Client, token: str) -> tuple[int, dict[str, Any]]:
    resp = await auth.post("/auth/refresh", json={"refresh_token": token})
    return resp.status, await resp.json()


async def live_refresh_tokens(database_url: str, any_token: str) -> int:
    """Unused refresh tokens of `any_token`'s session: its live branches."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            session_id = (
                await conn.execute(
                    select(refresh_tokens.c.session_id).where(
                        refresh_tokens.c.token_hash == hash_refresh_token(any_token)
                    )
                )
            ).scalar_one()
            return int(
                (
                    await conn.execute(
                        select(func.count()).where(
                            refresh_tokens.c.session_id == session_id,
                            refresh_tokens.c.used_at.is_(None),
                        )
                    )
                ).scalar_one()
            )
    finally:
        await engine.dispose()


async def test_ten_replays_inside_the_grace_leave_one_live_branch(
    start_auth: Callable[..., Awaitable[Client]], database_url: str
) -> None:
    auth = await start_auth(refresh_reuse_grace_s=30)
    first = await login(auth, await register(auth))
    status, rotated = await refresh(auth, first["refresh_token"])
    assert status == 200
    replays = [await refresh(auth, first["refresh_token"]) for _ in range(10)]
    assert [status for status, _ in replays] == [200] * 10
    returned = [rotated["refresh_token"], *(body["refresh_token"] for _, body in replays)]
    assert set(returned) == {rotated["refresh_token"]}  # the same token, not siblings
    for _, body in replays:  # each with an access token for the same, live session
        assert (await auth.get("/auth/me", headers=bearer(body["access_token"]))).status == 200

    # Refreshing every token returned leads to one and the same next token: one chain.
    onward = [await refresh(auth, token) for token in returned]
    assert [status for status, _ in onward] == [200] * 11
    assert len({body["refresh_token"] for _, body in onward}) == 1
    assert await live_refresh_tokens(database_url, first["refresh_token"]) == 1
    status, _ = await refresh(auth, onward[0][1]["refresh_token"])
    assert status == 200  # and that chain keeps working


async def test_concurrent_refreshes_of_one_token_all_get_its_one_successor(
    start_auth: Callable[..., Awaitable[Client]], database_url: str
) -> None:
    auth = await start_auth(refresh_reuse_grace_s=30)
    first = await login(auth, await register(auth))
    answers = await asyncio.gather(*(refresh(auth, first["refresh_token"]) for _ in range(10)))
    assert [status for status, _ in answers] == [200] * 10
    assert len({body["refresh_token"] for _, body in answers}) == 1
    assert await live_refresh_tokens(database_url, first["refresh_token"]) == 1


async def test_a_replay_after_the_grace_ends_the_session(
    start_auth: Callable[..., Awaitable[Client]],
) -> None:
    auth = await start_auth(refresh_reuse_grace_s=2)
    first = await login(auth, await register(auth))
    _, rotated = await refresh(auth, first["refresh_token"])
    assert (await refresh(auth, first["refresh_token"]))[0] == 200  # inside: a retry
    await asyncio.sleep(2.5)
    status, body = await refresh(auth, first["refresh_token"])
    assert (status, body["code"]) == (401, "invalid_refresh_token")
    assert (await refresh(auth, rotated["refresh_token"]))[0] == 401
    me = await auth.get("/auth/me", headers=bearer(rotated["access_token"]))
    assert (await me.json())["code"] == "session_revoked"
