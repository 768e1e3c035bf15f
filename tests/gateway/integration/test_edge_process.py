"""HTTP hygiene at the gateway's edge, on a real gateway process: what a client that writes
bad, slow or endless HTTP gets, and that it costs the gateway no unbounded memory."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp

from .conftest import StartUpstream
from .gateway_process import RawAnswer, gateway_process, raw_exchange, read_answer

HEAD_TIMEOUT_S = 1.0


def _problem(answer: RawAnswer, status: int, code: str) -> dict:  # type: ignore[type-arg]
    assert answer.status == status, answer
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = json.loads(answer.body)
    assert body["status"] == status
    assert body["code"] == code
    assert body["request_id"] == answer.headers["x-request-id"]
    assert answer.headers["server"] == "chore"  # no name of a library or its version
    return body  # type: ignore[no-any-return]


async def test_parse_errors_are_problems_and_name_no_version(
    start_upstream: StartUpstream, tmp_path: Path
) -> None:
    up = await start_upstream("tasks")
    async with gateway_process(tmp_path, {"tasks": [up.url]}) as gw:
        cases = [
            (b"GARBAGE\r\n\r\n", 400, "malformed_request"),
            (b"GET /tasks/echo HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400,
             "malformed_request"),
            (b"GET /tasks/echo HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
             431, "header_too_large"),
            (b"GET /tasks/echo HTTP/1.1\r\nHost: x\r\nX-" + b"a" * 20_000 + b": 1\r\n\r\n",
             431, "header_too_large"),
            (b"GET /tasks/echo HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200))
             + b"\r\n", 431, "header_too_large"),
            (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414,
             "request_target_too_long"),
        ]  # fmt: skip
        for data, status, code in cases:
            answer = await raw_exchange(gw.port, data)
            body = _problem(answer, status, code)
            assert b"aaaa" not in answer.body
            assert "GARBAGE" not in body["detail"]
            assert answer.closed
        # An absolute-form target (a forward proxy's) is refused by the gateway itself.
        answer = await raw_exchange(gw.port, b"GET http://x/tasks/echo HTTP/1.1\r\nHost: x\r\n\r\n")
        _problem(answer, 400, "invalid_request_target")
        assert up.seen == []
        # Good requests: proxied and the gateway's own alike carry no version.
        async with aiohttp.ClientSession() as http:
            for path in ("/tasks/echo", "/healthz", "/nowhere"):
                async with http.get(gw.url + path) as response:
                    assert response.headers["Server"] == "chore", path
        text = "\n".join(gw.lines)
        assert "Traceback" not in text
        async with aiohttp.ClientSession() as http, http.get(gw.metrics_url) as response:
            metrics = await response.text()
        assert 'gateway_refused_total{reason="malformed_request"} 2.0' in metrics
        assert 'gateway_refused_total{reason="invalid_request_target"} 1.0' in metrics


async def test_metrics_are_served_on_their_own_port_only(
    start_upstream: StartUpstream, tmp_path: Path
) -> None:
    up = await start_upstream("tasks")
    async with (
        gateway_process(tmp_path, {"tasks": [up.url]}) as gw,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"{gw.url}/metrics") as response:
            assert response.status == 404
            assert (await response.json())["code"] == "not_found"
        async with http.get(gw.metrics_url) as response:
            assert response.status == 200
            assert 'gateway_upstream_up{address="' in await response.text()
        assert not gw.metrics_url.startswith(f"{gw.url}/")


async def test_a_trickled_request_head_is_cut_after_the_head_timeout(
    start_upstream: StartUpstream, tmp_path: Path
) -> None:
    up = await start_upstream("tasks")
    settings = {"client_header_timeout_s": str(HEAD_TIMEOUT_S)}
    async with gateway_process(tmp_path, {"tasks": [up.url]}, **settings) as gw:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        idle_r, idle_w = await asyncio.open_connection("127.0.0.1", gw.port)
        head = b"GET /tasks/echo HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 100 + b"\r\n\r\n"

        async def trickle() -> int:  # one byte every 0.1 s: 12 s for the whole head
            for sent in range(len(head)):
                try:
                    writer.write(head[sent : sent + 1])
                    await writer.drain()
                except ConnectionError:
                    return sent
                await asyncio.sleep(0.1)
            return len(head)

        started = time.monotonic()
        sender = asyncio.create_task(trickle())
        try:
            answer = await read_answer(reader, wait_s=HEAD_TIMEOUT_S + 3)
            closed_after = time.monotonic() - started
            _problem(answer, 408, "header_timeout")
            assert answer.closed
            assert closed_after < HEAD_TIMEOUT_S + 1.0, closed_after
            # A kept-alive connection that sends nothing is not a slow head: still open.
            idle_w.write(b"GET /tasks/echo HTTP/1.1\r\nHost: x\r\n\r\n")
            await idle_w.drain()
            ok = await read_answer(idle_r)
            assert ok.status == 200
            assert not ok.closed
            await asyncio.sleep(HEAD_TIMEOUT_S + 0.5)
            idle_w.write(b"GET /tasks/echo HTTP/1.1\r\nHost: x\r\n\r\n")
            await idle_w.drain()
            assert (await read_answer(idle_r)).status == 200
        finally:
            sender.cancel()
            writer.close()
            idle_w.close()
        assert up.seen == [] or all(r["headers"].get("X-Slow") is None for r in up.seen)
        print(f"\ntrickled head answered 408 and closed after {closed_after:.2f} s")


async def test_unique_connection_values_and_header_names_do_not_grow_memory(
    start_upstream: StartUpstream, tmp_path: Path
) -> None:
    """10,000 requests, each with a `Connection` value and header names never seen before:
    the gateway's RSS grows less than 20 MB (it grew by ~450 MB in 240 such requests)."""
    up = await start_upstream("tasks")
    up.record = False
    async with gateway_process(tmp_path, {"tasks": [up.url]}, rate_limit_rps="0") as gw:

        async def client(n: int, first: int, count: int, unique: bool = True) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
            try:
                for i in range(first, first + count):
                    # 24 names of ~1 KB never seen before, and a Connection value likewise
                    # (the one that took the gateway to 526 MiB sent such names by hundreds)
                    tag = i if unique else 0
                    names = [f"X-{tag}-{j}-{'q' * 1000}" for j in range(24)]
                    connection = f"keep-alive, X-Hop-{tag}" + (f", {'c' * 3000}" if i % 2 else "")
                    lines = [f"GET /tasks/echo?i={i} HTTP/1.1", "Host: x",
                             f"Connection: {connection}", *(f"{h}: v" for h in names)]  # fmt: skip
                    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
                    await writer.drain()
                    answer = await read_answer(reader, see_close=False)
                    assert answer.status == 200, answer
            finally:
                writer.close()

        # Warm up with the same names every time: buffers and pools reach their working size.
        await asyncio.gather(*(client(n, n * 100, 100, unique=False) for n in range(8)))
        before = gw.rss_bytes()
        await asyncio.gather(*(client(n, 10_000 + n * 1250, 1250) for n in range(8)))
        grown = gw.rss_bytes() - before
        print(f"\n10,000 unique-header requests: gateway RSS {before / 2**20:.1f} MiB, "
              f"grew {grown / 2**20:.1f} MiB")  # fmt: skip
        assert grown < 20 * 2**20
