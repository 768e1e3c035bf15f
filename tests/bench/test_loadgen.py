"""The load generator counts what a server really answered; no speed is asserted here."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

# bench/ is a top-level folder of the repository, not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.loadgen import (
    _response_end,
    build_request,
    measure_latency,
    measure_rps,
    percentile,
    run_load,
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """An aiohttp app on a free port, in a thread: 200 on /ok, echo on POST /echo, 404 else."""
    seen: list[bytes] = []

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append(body)
        return web.Response(body=body, content_type=request.content_type)

    async def empty(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_post("/echo", echo)
    app.router.add_get("/empty", empty)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.run_until_complete(runner.cleanup())
    loop.close()


def test_request_bytes_carry_method_target_headers_and_body() -> None:
    host, port, raw = build_request(
        "http://127.0.0.1:9000/items?x=1", "POST", b'{"a":1}', {"X-Request-ID": "r1"}
    )
    assert (host, port) == ("127.0.0.1", 9000)
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /items?x=1 HTTP/1.1"
    assert "X-Request-ID: r1" in lines
    assert "Content-Length: 7" in lines
    assert "Content-Type: application/json" in lines
    assert body == b'{"a":1}'


def test_only_loopback_http_is_a_target() -> None:
    with pytest.raises(ValueError, match="only targets"):
        build_request("http://10.0.0.1/")
    with pytest.raises(ValueError, match="only targets"):
        build_request("https://127.0.0.1/")


def test_responses_are_framed_by_content_length() -> None:
    one = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    assert _response_end(one) == (len(one), 200)
    assert _response_end(one[:-1]) is None
    assert _response_end(b"HTTP/1.1 200 OK\r\nContent-") is None
    lower = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200"
    assert _response_end(lower) == (lower.index(b"HTTP/1.1 200"), 404)
    no_content = b"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n"
    assert _response_end(no_content + b"HTTP") == (len(no_content), 204)
    with pytest.raises(ValueError, match="Content-Length"):
        _response_end(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")


def test_a_fixed_number_of_requests_is_sent_and_each_answer_counted(server: str) -> None:
    result = run_load(f"{server}/ok", connections=4, requests=100, record_latency=True)
    assert result.requests == 100
    assert result.errors == 0
    assert len(result.latencies_s) == 100
    assert all(t > 0 for t in result.latencies_s)


def test_error_statuses_are_counted_as_errors(server: str) -> None:
    result = run_load(f"{server}/missing", connections=2, requests=20)
    assert (result.requests, result.errors) == (20, 20)


def test_bodies_reach_the_server_and_empty_answers_are_understood(server: str) -> None:
    posted = run_load(f"{server}/echo", "POST", b'{"n":1}', connections=2, requests=10)
    empty = run_load(f"{server}/empty", connections=1, requests=5)
    assert (posted.requests, posted.errors) == (10, 0)
    assert (empty.requests, empty.errors) == (5, 0)


def test_rate_and_latency_come_from_a_separate_process(server: str) -> None:
    rate = measure_rps(f"{server}/ok", connections=4, duration_s=0.3, warmup_s=0.1)
    assert rate.requests > 0
    assert rate.errors == 0
    assert rate.rps == rate.requests / rate.elapsed_s
    latencies = measure_latency(f"{server}/ok", requests=30, warmup=5)
    assert len(latencies) == 30
    assert percentile(latencies, 50) <= percentile(latencies, 99)


def test_percentile_is_nearest_rank() -> None:
    samples = [float(i) for i in range(1, 101)]
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile(samples, 100) == 100.0
    assert percentile([3.0], 99) == 3.0
