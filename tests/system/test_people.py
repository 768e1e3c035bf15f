"""Issue 25's people through the whole platform (gateway, two replicas of each service, real
NATS): a profile edit made through auth reaches offers, the inbox and notifications from
auth's events, and they still show it with every auth replica frozen (SIGSTOP), so no
service asks auth anything to show a person."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from .helpers import RunningPlatform, chat_between, demo

pytestmark = [pytest.mark.system, pytest.mark.timeout(300)]


async def until(read: Callable[[], Awaitable[Any]], check: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + 15  # generous: the machine is shared
    while True:
        found = await read()
        if check(found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.02)


async def test_a_profile_edit_shows_on_offers_inbox_and_notifications_with_auth_frozen(
    platform: RunningPlatform, api: Any, tag: str
) -> None:
    ann, bob, task_id, _ = await chat_between(api, tag)
    new_name = f"Bob the Builder {tag}"
    edited = time.monotonic()
    await api.call(
        "PATCH", "/auth/me/profile", token=bob.token, json_body={"name": new_name}, expect=(200,)
    )

    async def offers() -> list[dict[str, Any]]:
        page = await api.call("GET", f"/tasks/{task_id}/offers", token=ann.token)
        return list(page["items"])

    async def inbox() -> list[dict[str, Any]]:
        page = await api.call("GET", "/messaging/conversations?limit=100", token=ann.token)
        return [c for c in page["items"] if c["task_id"] == task_id]

    seen = await until(offers, lambda items: items[0]["tasker"]["name"] == new_name)
    on_offers = time.monotonic() - edited
    conv = await until(inbox, lambda items: items and items[0]["peer"]["name"] == new_name)
    print(
        f"\nprofile edit -> offers {on_offers * 1000:.0f} ms, "
        f"-> inbox {(time.monotonic() - edited) * 1000:.0f} ms"
    )
    assert seen[0]["tasker"]["name"] == new_name
    assert conv[0]["peer"]["name"] == new_name

    pids = [platform.pid(name) for name in platform.instances("auth")]
    for pid in pids:
        os.killpg(pid, signal.SIGSTOP)
    try:
        card = (await offers())[0]["tasker"]
        assert card == {
            "id": bob.id,
            "name": new_name,
            "rating_mean": None,
            "rating_count": 0,
            "completed_count": 0,
        }
        assert (await inbox())[0]["peer"] == card
        notes = await api.call("GET", "/messaging/notifications?limit=100", token=ann.token)
        offered = [
            n for n in notes["items"] if n["kind"] == "offer_created" and n["task_id"] == task_id
        ]
        assert [n["person"] for n in offered] == [card]
    finally:
        for pid in pids:
            os.killpg(pid, signal.SIGCONT)


async def test_a_deleted_tasker_is_deleted_user_to_the_client_and_their_messages_stay(
    platform: RunningPlatform, api: Any, tag: str
) -> None:
    ann, bob, task_id, conv_id = await chat_between(api, tag)
    message = {"body": "I can come on Tuesday", "client_msg_id": f"m-{tag}"}
    path = f"/messaging/conversations/{conv_id}/messages"
    await api.call("POST", path, token=bob.token, json_body=message, expect=(201,))
    await api.call(
        "DELETE", "/auth/me", token=bob.token, json_body={"password": demo.PASSWORD}, expect=(204,)
    )

    async def inbox() -> list[dict[str, Any]]:
        page = await api.call("GET", "/messaging/conversations?limit=100", token=ann.token)
        return [c for c in page["items"] if c["id"] == conv_id]

    async def offers() -> list[dict[str, Any]]:
        page = await api.call("GET", f"/tasks/{task_id}/offers", token=ann.token)
        return list(page["items"])

    conv = await until(inbox, lambda items: items[0]["peer"]["name"] == "Deleted user")
    assert conv[0]["peer"]["name"] == "Deleted user"
    history = await api.call("GET", path, token=ann.token)
    assert [m["body"] for m in history["items"]] == ["I can come on Tuesday"]
    # Tasks withdrew the deleted tasker's open offer and names them the same way.
    found = await until(offers, lambda items: items[0]["status"] == "withdrawn")
    assert (found[0]["status"], found[0]["tasker"]["name"]) == ("withdrawn", "Deleted user")
