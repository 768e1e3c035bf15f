"""WebSocket clients that misbehave, through the gateway of the whole platform (two replicas
of each service): one that never reads, one that floods, bad frames, an upgrade where there
is no WebSocket, one user opening socket after socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from .helpers import RunningPlatform, chat_between, demo

pytestmark = [pytest.mark.system, pytest.mark.timeout(300)]

MESSAGES = 5000
BODY = "x" * 4000  # ~4 KB frames once framed as JSON
SENDERS = 8  # concurrent REST posters; the messages still get one seq each, in order
RSS_BOUND_MB = 50
STALL_S = 10.0  # GATEWAY_WS_STALL_S, its default
ENDED_WITHIN_S = STALL_S + 30  # after the last send: the stall, the close wait, a busy box


def rss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def tcp_state(local: tuple[str, int], remote_port: int) -> str | None:
    """The kernel's state of our end of a connection (None: gone, e.g. after a reset)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        ours = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
        if ours == (local[1], remote_port):
            return {"01": "ESTABLISHED", "08": "CLOSE_WAIT"}.get(fields[3], fields[3])
    return None


async def open_socket(
    session: aiohttp.ClientSession, api: Any, token: str, **kw: Any
) -> aiohttp.ClientWebSocketResponse:
    return await session.ws_connect(api.ws_url("/messaging/ws"), protocols=("bearer", token), **kw)


async def next_frame(ws: aiohttp.ClientWebSocketResponse, wait_s: float = 10) -> dict[str, Any]:
    msg = await ws.receive(timeout=wait_s)
    assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
    frame: dict[str, Any] = json.loads(msg.data)
    return frame


async def next_frame_of(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next frame of type `kind`, past others the protocol may put first (a socket not
    subscribed to a conversation hears `conversation_updated` when a message moves it)."""
    while (frame := await next_frame(ws))["type"] != kind:
        pass
    return frame


async def subscribe(ws: aiohttp.ClientWebSocketResponse, conversation_id: str) -> None:
    await ws.send_json({"type": "subscribe", "conversation_id": conversation_id})
    assert (await next_frame(ws))["type"] == "subscribed"


async def test_a_subscriber_that_never_reads_is_ended_with_the_stack_bounded_and_others_served(
    platform: RunningPlatform, api: Any, session: aiohttp.ClientSession, tag: str
) -> None:
    ann, bob, _, conv_id = await chat_between(api, tag)
    pids = [platform.pid(name) for name in ("gateway", *platform.instances("messaging"))]
    gateway_port = URL(platform.url).port
    assert gateway_port is not None
    # Bob's phone subscribes, then reads nothing: past aiohttp's 128 KiB the kernel buffers
    # fill, then the gateway's writes to it wait.
    stuck = await open_socket(session, api, bob.token)
    await subscribe(stuck, conv_id)
    stuck_end = stuck.get_extra_info("sockname")
    # Bob's laptop reads everything.
    reader = await open_socket(session, api, bob.token, heartbeat=20)
    await subscribe(reader, conv_id)

    before = peak = rss_mb(pids)
    started = time.monotonic()
    ended_at: float | None = None
    ended = asyncio.Event()

    def watch() -> None:
        nonlocal peak, ended_at
        peak = max(peak, rss_mb(pids))
        if ended_at is None and tcp_state(stuck_end, gateway_port) != "ESTABLISHED":
            ended_at = time.monotonic() - started
            ended.set()

    async def sample() -> None:
        while True:
            watch()
            await asyncio.sleep(0.2)

    async def read_all() -> list[int]:
        seqs: list[int] = []
        while len(seqs) < MESSAGES:
            frame = await next_frame(reader, wait_s=120)
            if frame["type"] == "message":
                seqs.append(frame["seq"])
        return seqs

    async def post(next_k: Callable[[], int | None]) -> None:
        while (k := next_k()) is not None:
            body = {"body": BODY, "client_msg_id": f"{tag}-{k}"}
            await api.call("POST", f"/messaging/conversations/{conv_id}/messages",
                           token=ann.token, json_body=body, expect=(201,))  # fmt: skip

    numbers = iter(range(MESSAGES))
    sampling = asyncio.create_task(sample())
    reading = asyncio.create_task(read_all())
    try:
        await asyncio.gather(*(post(lambda: next(numbers, None)) for _ in range(SENDERS)))
        sent_after = time.monotonic() - started
        seqs = await asyncio.wait_for(reading, 120)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                ended.wait(), sent_after + ENDED_WITHIN_S - time.monotonic() + started
            )
        watch()
    finally:
        sampling.cancel()
        reading.cancel()
    # What the stuck phone sees once it reads again: what the buffers held, then the end.
    got, end = 0, None
    while end is None:
        msg = await stuck.receive(timeout=30)
        if msg.type is aiohttp.WSMsgType.TEXT:
            got += json.loads(msg.data)["type"] == "message"
        else:
            end = (msg.type.name, msg.data)
    print(
        f"\nstuck subscriber: {MESSAGES} x 4 KB sent in {sent_after:.1f} s; its connection"
        f" ended at {ended_at if ended_at is None else round(ended_at, 1)} s; it then read {got}"
        f" messages and {end}; gateway+messaging RSS {before:.0f} -> peak {peak:.0f} MB"
        f" (+{peak - before:.1f} MB)"
    )
    assert seqs == list(range(1, MESSAGES + 1))  # the other subscriber: all, in order
    assert ended_at is not None, "the stuck subscriber's connection is still open"
    assert end in (("CLOSE", 1013), ("CLOSED", None), ("ERROR", end[1]))
    assert got < MESSAGES
    assert peak - before < RSS_BOUND_MB
    await reader.close()


async def test_a_flood_close_reaches_the_client_with_its_code_and_reason(
    api: Any, session: aiohttp.ClientSession, tag: str
) -> None:
    ann = await demo.log_in(api, await demo.sign_up(api, "Ann", "client", tag))
    ends = []
    for _ in range(10):  # the close frame was lost in 2 to 10 of 15 tries
        ws = await open_socket(session, api, ann.token)

        async def flood(ws: aiohttp.ClientWebSocketResponse = ws) -> None:
            try:
                while True:
                    for _ in range(50):
                        await ws.send_str('{"type":"ping"}')
                    await asyncio.sleep(0)
            except ConnectionError:
                pass  # closed under the flood

        flooding = asyncio.create_task(flood())
        while (msg := await ws.receive(timeout=30)).type is aiohttp.WSMsgType.TEXT:
            pass  # pongs, then rate_limited errors
        flooding.cancel()
        ends.append((msg.type, msg.data, msg.extra))
        await ws.close()
    assert ends == [(aiohttp.WSMsgType.CLOSE, 1008, "rate limit exceeded")] * 10


async def test_frames_the_database_cannot_hold_get_error_frames_and_store_nothing(
    api: Any, session: aiohttp.ClientSession, tag: str
) -> None:
    ann, _, _, conv_id = await chat_between(api, tag)
    ws = await open_socket(session, api, ann.token)

    def send(body: str, client_msg_id: str) -> dict[str, Any]:
        return {"type": "send", "conversation_id": conv_id, "body": body,
                "client_msg_id": client_msg_id}  # fmt: skip

    cases = [
        ({"type": "subscribe", "conversation_id": conv_id, "since_seq": 2**70}, "since_seq"),
        ({"type": "read", "conversation_id": conv_id, "seq": 2**70}, "seq"),
        # json.dumps writes a lone surrogate as "\ud800", as a client's JSON would.
        (send("hi \ud800", f"{tag}-1"), "body"),
        (send("hi \x00", f"{tag}-2"), "body"),
        (send("hi", "\udfff"), "client_msg_id"),
    ]
    for frame, field in cases:
        await ws.send_str(json.dumps(frame))
        error = await next_frame(ws)
        assert error["type"] == "error", frame
        assert error["code"] == "invalid_frame", frame
        assert error["detail"].startswith(f"{field}: ")
    await ws.send_str("[" * 5000 + "]" * 5000)  # nested past the parser: not a 1011
    assert (await next_frame(ws))["code"] == "invalid_json"
    history = await api.call("GET", f"/messaging/conversations/{conv_id}/messages", token=ann.token)
    assert history["items"] == []  # nothing stored
    await ws.send_json({"type": "send", "conversation_id": conv_id, "body": "hi \U0001f600",
                        "client_msg_id": f"{tag}-ok"})  # fmt: skip
    ack = await next_frame_of(ws, "ack")
    assert ack["seq"] == 1  # the socket goes on; no seq was used
    await ws.close()


@pytest.mark.parametrize("path", ["/tasks", "/messaging/conversations", "/auth/me"])
async def test_an_upgrade_on_a_plain_route_is_a_400_problem(
    api: Any, session: aiohttp.ClientSession, tag: str, path: str
) -> None:
    ann = await demo.log_in(api, await demo.sign_up(api, "Ann", "client", tag))
    auth = {"Authorization": f"Bearer {ann.token}"}  # the route answers, with a 200
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await session.ws_connect(api.ws_url(path), headers=auth)
    assert caught.value.status == 400
    headers = {
        **auth,
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    async with session.get(api.url(path), headers=headers) as response:
        assert response.status == 400
        assert response.content_type == "application/problem+json"
        problem = await response.json()
    assert problem["code"] == "websocket_not_supported"
    assert path in problem["detail"]


async def test_a_user_past_the_socket_cap_is_closed_4429_and_others_are_served(
    platform: RunningPlatform, api: Any, session: aiohttp.ClientSession, tag: str
) -> None:
    """The cap (MESSAGING_WS_MAX_PER_USER, 10) holds per messaging process: through the
    gateway's round robin over two replicas, a user holds between 10 and 20."""
    ann = await demo.log_in(api, await demo.sign_up(api, "Ann", "client", tag))
    bob = await demo.log_in(api, await demo.sign_up(api, "Bob", "tasker", tag))
    replicas = len(platform.instances("messaging"))
    held: list[aiohttp.ClientWebSocketResponse] = []
    refused = None
    for _ in range(10 * replicas + 1):
        ws = await open_socket(session, api, ann.token)
        await ws.send_json({"type": "ping"})
        msg = await ws.receive(timeout=10)
        if msg.type is aiohttp.WSMsgType.CLOSE:
            refused = (msg.data, msg.extra)
            break
        assert json.loads(msg.data) == {"type": "pong"}
        held.append(ws)
    assert refused == (4429, "too many connections: at most 10 per user")
    assert 10 <= len(held) <= 10 * replicas
    other = await open_socket(session, api, bob.token)  # another user is not capped
    await other.send_json({"type": "ping"})
    assert (await next_frame(other)) == {"type": "pong"}
    for ws in held:  # the refusal took nothing from the sockets already open
        await ws.send_json({"type": "ping"})
        assert (await next_frame(ws)) == {"type": "pong"}
    for ws in [*held, other]:
        await ws.close()
