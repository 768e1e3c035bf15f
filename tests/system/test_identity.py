"""Issue 22, items 7 and 8 (auth's), through the gateway on real processes: a refresh
replayed inside the grace keeps one chain, HEAD works where GET does with the same token,
and an address spelled another way is the same account."""

from __future__ import annotations

import asyncio
import unicodedata
from typing import Any

import pytest

from .helpers import RunningPlatform, chat_between, demo

pytestmark = [pytest.mark.system, pytest.mark.timeout(240)]


async def refresh(api: Any, token: str) -> tuple[int, dict[str, Any]]:
    async with api.session.post(api.url("/auth/refresh"), json={"refresh_token": token}) as r:
        return r.status, await r.json()


async def test_ten_replays_of_a_used_refresh_token_leave_one_live_branch(
    platform: RunningPlatform, api: Any, tag: str
) -> None:
    user = await demo.sign_up(api, "Rae", "client", tag)
    body = {"email": user.email, "password": demo.PASSWORD}
    first = await api.call("POST", "/auth/login", json_body=body, expect=(200,))
    status, rotated = await refresh(api, first["refresh_token"])
    assert status == 200
    # Sequential and concurrent replays, inside the grace (10 s), through both replicas.
    replays = [await refresh(api, first["refresh_token"]) for _ in range(5)]
    replays += await asyncio.gather(*(refresh(api, first["refresh_token"]) for _ in range(5)))
    assert [status for status, _ in replays] == [200] * 10
    returned = [rotated["refresh_token"], *(body["refresh_token"] for _, body in replays)]
    assert set(returned) == {rotated["refresh_token"]}
    # Refreshing every token returned: one next token, and that chain keeps working.
    onward = await asyncio.gather(*(refresh(api, token) for token in returned))
    assert [status for status, _ in onward] == [200] * len(returned)
    assert len({body["refresh_token"] for _, body in onward}) == 1
    status, last = await refresh(api, onward[0][1]["refresh_token"])
    assert status == 200
    await api.call("GET", "/auth/me", token=last["access_token"], expect=(200,))


async def test_head_answers_where_get_does_in_every_service(
    platform: RunningPlatform, api: Any, tag: str
) -> None:
    ann, _, task_id, conv_id = await chat_between(api, tag)
    for path in (
        "/auth/me",
        "/auth/sessions",
        "/tasks",
        f"/tasks/{task_id}",
        f"/tasks/{task_id}/offers",
        "/messaging/conversations",
        f"/messaging/conversations/{conv_id}/messages",
        "/messaging/notifications",
    ):
        bearer = {"Authorization": f"Bearer {ann.token}"}
        async with api.session.get(api.url(path), headers=bearer) as got:
            await got.read()
        async with api.session.head(api.url(path), headers=bearer) as head:
            assert (got.status, head.status) == (200, 200), path
            assert await head.read() == b""
        async with api.session.head(api.url(path)) as anonymous:
            assert anonymous.status == 401, path


async def test_an_address_typed_another_way_is_the_same_account(
    platform: RunningPlatform, api: Any, tag: str
) -> None:
    composed = unicodedata.normalize("NFC", f"zoé+{tag}@example.com")
    body = {"email": composed, "password": demo.PASSWORD, "name": "Zoé", "role": "client"}
    await api.call("POST", "/auth/register", json_body=body, expect=(201,))
    for other in (unicodedata.normalize("NFD", composed), composed.replace("@", "\u200b@")):
        again = {**body, "email": other}
        taken = await api.call("POST", "/auth/register", json_body=again, expect=(409,))
        assert taken["code"] == "email_taken"
        login = {"email": other, "password": demo.PASSWORD}
        await api.call("POST", "/auth/login", json_body=login, expect=(200,))
