"""What a marketplace user sees through the gateway of the whole platform, two replicas each."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .helpers import RunningPlatform, chat_between, demo

pytestmark = [pytest.mark.system, pytest.mark.timeout(240)]

REVOCATION_BOUND_S = 1.0


async def test_a_whole_marketplace_day_runs_through_the_gateway(api: Any, tag: str) -> None:
    day = demo.Day()
    result = await demo.marketplace_day(api, day, tag)

    assert [s.name for s in day.steps if not s.ok] == []
    assert result.task["status"] == "completed"
    assert result.task["assignee_id"] == result.taskers[0].id
    assert result.review["rating"] == 5
    assert [m["seq"] for m in result.messages] == [1, 2]
    # Seen again later, by the other party, over the REST mirror: the chat was stored.
    bob = result.taskers[0]
    page = await api.call(
        "GET", f"/messaging/conversations/{result.conversation_id}/messages", token=bob.token
    )
    assert [m["body"] for m in page["items"]] == [m["body"] for m in result.messages]


async def test_a_message_sent_through_one_messaging_replica_reaches_a_socket_on_the_other(
    platform: RunningPlatform, api: Any, session: aiohttp.ClientSession, tag: str
) -> None:
    # The gateway picks replicas itself, so this test alone connects each socket straight to
    # one messaging replica: Ann's to the first, Bob's to the second.
    first, second = platform.replicas("messaging")[:2]
    ann, bob, _, conv_id = await chat_between(api, tag)
    ann_sock = await demo.Socket.open(api, ann.token, _ws(first))
    bob_sock = await demo.Socket.open(api, bob.token, _ws(second))
    try:
        await ann_sock.subscribe(conv_id)
        await bob_sock.subscribe(conv_id)

        ack = await ann_sock.say(conv_id, "Sent on replica one")
        heard = await bob_sock.message(conv_id, "Sent on replica one")
        assert heard["seq"] == ack["seq"] == 1
        assert heard["sender_id"] == ann.id

        ack = await bob_sock.say(conv_id, "Answered on replica two")
        heard = await ann_sock.message(conv_id, "Answered on replica two")
        assert heard["seq"] == ack["seq"] == 2

        # A message posted over REST through the gateway reaches both sockets, wherever it ran.
        body = {"body": "Posted over HTTP", "client_msg_id": f"rest-{tag}"}
        await api.call("POST", f"/messaging/conversations/{conv_id}/messages", token=ann.token,
                       json_body=body, expect=(200, 201))  # fmt: skip
        for sock in (ann_sock, bob_sock):
            assert (await sock.message(conv_id, "Posted over HTTP"))["seq"] == 3
    finally:
        await ann_sock.close()
        await bob_sock.close()


async def test_a_session_revoked_on_one_replica_is_refused_by_every_replica_within_a_second(
    platform: RunningPlatform, api: Any, session: aiohttp.ClientSession, tag: str
) -> None:
    ann = await demo.log_in(api, await demo.sign_up(api, "Ann", "client", tag))
    # Each replica asked directly: the gateway would hide which one answered.
    probes = [f"{url}/auth/me" for url in platform.replicas("auth")]
    probes += [f"{url}/tasks?limit=1" for url in platform.replicas("tasks")]
    probes += [f"{url}/messaging/conversations?limit=1" for url in platform.replicas("messaging")]
    headers = {"Authorization": f"Bearer {ann.token}"}
    for url in probes:
        async with session.get(url, headers=headers) as response:
            assert response.status == 200, url
    sock = await demo.Socket.open(api, ann.token)

    await api.call("POST", "/auth/logout", token=ann.token, expect=(204,))
    revoked_at = time.monotonic()

    async def refused_after(url: str) -> float:
        while time.monotonic() - revoked_at < 5 * REVOCATION_BOUND_S:
            async with session.get(url, headers=headers) as response:
                if response.status == 401:
                    return time.monotonic() - revoked_at
                assert response.status == 200, url
            await asyncio.sleep(0.01)
        raise AssertionError(f"{url} still accepts the revoked token")

    async def socket_closed_after() -> float:
        await sock.wait_closed()
        return time.monotonic() - revoked_at

    closing = asyncio.create_task(asyncio.wait_for(socket_closed_after(), 5 * REVOCATION_BOUND_S))
    delays = await asyncio.gather(*(refused_after(url) for url in probes))
    closed_after = await closing
    await sock.close()
    print(f"\nrevocation: refused by all {len(probes)} replicas after {max(delays) * 1000:.0f} ms,"
          f" socket closed after {closed_after * 1000:.0f} ms")  # fmt: skip
    assert max(delays) < REVOCATION_BOUND_S, dict(zip(probes, delays, strict=True))
    assert closed_after < REVOCATION_BOUND_S


def _mode_and_json(path: Path) -> tuple[int, Any]:
    return path.stat().st_mode & 0o777, json.loads(path.read_text())


def _ws(base: str) -> str:
    return "ws" + base.removeprefix("http") + "/messaging/ws"


async def test_make_run_prints_the_gateway_its_docs_and_an_admin_login_that_works(
    platform: RunningPlatform, api: Any, session: aiohttp.ClientSession
) -> None:
    url = platform.url
    printed = platform.wait_for_line(r"^platform\s*\| open (\S+)  \(docs: (\S+)\)", 5)
    assert printed.groups() == (url, f"{url}/docs")
    login = platform.wait_for_line(r"admin login: (\S+) / (\S+)  \(kept in (\S+)\)", 5)
    email, password, kept_in = login.groups()
    mode, saved = _mode_and_json(Path(kept_in))
    assert mode == 0o600
    assert saved == {"email": email, "password": password}

    async with session.get(f"{url}/docs") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
    tokens = await api.call("POST", "/auth/login", json_body={"email": email, "password": password})
    jobs = await api.call("GET", "/tasks/admin/jobs", token=tokens["access_token"])
    assert "items" in jobs


async def test_the_demo_reset_mail_arrives_at_dev_mail_and_its_token_works_once(
    api: Any, tag: str
) -> None:
    """Done-when 8: `make demo`'s reset step, on the platform `make run` starts (with its SMTP
    sink and /dev/mail): the mail arrives, the token sets a new password, the new password
    logs in and the old one does not; the token is spent."""
    cat = await demo.log_in(api, await demo.sign_up(api, "Cat", "tasker", tag))
    old_token = cat.token
    day = demo.Day()
    assert await demo.password_reset(api, day, cat)
    assert [s.name for s in day.steps if not s.ok] == []
    await api.call("GET", "/auth/me", token=cat.token, expect=(200,))
    await api.call("GET", "/auth/me", token=old_token, expect=(401,))
    old = {"email": cat.email, "password": demo.PASSWORD}
    await api.call("POST", "/auth/login", json_body=old, expect=(401,))
    token = await demo._reset_token(api, cat)
    spent = {"token": token, "password": "yet another password, unused"}
    await api.call("POST", "/auth/password/reset", json_body=spent, expect=(400,))
