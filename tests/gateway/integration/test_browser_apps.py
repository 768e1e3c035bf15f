"""A gateway ready for browser apps, on real gateway processes: CORS for allowed and refused
origins, the IETF RateLimit fields, and the per-IP limit shared by two gateways through one
nats-server (and what happens without it)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import aiohttp
import pytest

from chore_common.testing.nats import NatsServer, free_port

from .conftest import StartUpstream
from .gateway_process import GatewayProcess, gateway_process

APP = "https://app.example.com"
EVIL = "https://evil.example"
CORS = {"cors_origins": json.dumps([APP])}
PREFLIGHT = {
    "Origin": APP,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, authorization, idempotency-key",
}
_RATELIMIT = re.compile(r'^"default";r=(\d+);t=(\d+)$')


def _fields(resp: aiohttp.ClientResponse) -> tuple[int, int]:
    match = _RATELIMIT.match(resp.headers["RateLimit"])
    assert match, resp.headers["RateLimit"]
    return int(match[1]), int(match[2])


async def test_preflight_from_an_allowed_origin_is_answered_by_the_gateway(
    tmp_path: Path, start_upstream: StartUpstream
) -> None:
    up = await start_upstream("tasks")
    async with (
        gateway_process(tmp_path, {"tasks": [up.url]}, **CORS) as gw,
        aiohttp.ClientSession() as http,
    ):
        async with http.options(f"{gw.url}/tasks/echo", headers=PREFLIGHT) as resp:
            assert resp.status == 204
            assert resp.headers["Access-Control-Allow-Origin"] == APP
            methods = resp.headers["Access-Control-Allow-Methods"]
            assert {"GET", "POST", "PATCH", "DELETE"} <= set(methods.split(", "))
            allowed = resp.headers["Access-Control-Allow-Headers"].split(", ")
            assert {"authorization", "content-type", "idempotency-key"} <= set(allowed)
            assert resp.headers["Access-Control-Max-Age"] == "600"
            assert "Origin" in resp.headers["Vary"]
            assert "Access-Control-Allow-Credentials" not in resp.headers
        # The bare prefix too, and nothing of either reached the service.
        async with http.options(f"{gw.url}/tasks", headers=PREFLIGHT) as resp:
            assert resp.status == 204
        assert up.seen == []
        # An OPTIONS that is no preflight still goes upstream, as before.
        async with http.options(f"{gw.url}/tasks/echo") as resp:
            assert resp.status == 200
        assert [seen["method"] for seen in up.seen] == ["OPTIONS"]


async def test_preflight_from_a_refused_origin_is_403_without_cors_headers(
    tmp_path: Path, start_upstream: StartUpstream
) -> None:
    up = await start_upstream("tasks")
    async with (
        gateway_process(tmp_path, {"tasks": [up.url]}, **CORS) as gw,
        aiohttp.ClientSession() as http,
    ):
        for headers, says in (
            ({**PREFLIGHT, "Origin": EVIL}, "origin"),
            ({**PREFLIGHT, "Access-Control-Request-Headers": "x-secret"}, "x-secret"),
            ({**PREFLIGHT, "Access-Control-Request-Method": "TRACE"}, "method"),
        ):
            async with http.options(f"{gw.url}/tasks/echo", headers=headers) as resp:
                assert resp.status == 403
                assert resp.headers["Content-Type"].startswith("application/problem+json")
                body = await resp.json()
                assert body["code"] == "cors_refused"
                assert says in body["detail"]
                if headers["Origin"] == EVIL:
                    assert not any(h.startswith("Access-Control-") for h in resp.headers)
        assert up.seen == []


async def test_simple_requests_carry_cors_headers_for_allowed_origins_only(
    tmp_path: Path, start_upstream: StartUpstream
) -> None:
    up = await start_upstream("tasks")
    async with (
        gateway_process(tmp_path, {"tasks": [up.url]}, **CORS) as gw,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"{gw.url}/tasks/echo", headers={"Origin": APP}) as resp:
            assert resp.status == 200
            assert resp.headers["Access-Control-Allow-Origin"] == APP
            exposed = set(resp.headers["Access-Control-Expose-Headers"].split(", "))
            assert {"ETag", "Location", "X-Request-ID", "RateLimit", "RateLimit-Policy"} <= (
                exposed
            )
            assert "Origin" in resp.headers["Vary"]
            assert "Access-Control-Allow-Credentials" not in resp.headers
        # Refused: served (CORS is the browser's to enforce) but without CORS headers,
        # so the browser keeps the answer from the page.
        async with http.get(f"{gw.url}/tasks/echo", headers={"Origin": EVIL}) as resp:
            assert resp.status == 200
            assert not any(h.startswith("Access-Control-") for h in resp.headers)
            assert "Origin" in resp.headers["Vary"]
        # The gateway's own answers too: a browser must be able to read a 404 problem.
        async with http.get(f"{gw.url}/nowhere", headers={"Origin": APP}) as resp:
            assert resp.status == 404
            assert resp.headers["Access-Control-Allow-Origin"] == APP
        # A WebSocket from a refused origin is refused before any upgrade; from an
        # allowed one, or from a non-browser client (no Origin), it opens.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{gw.url}/tasks/ws", headers={"Origin": EVIL})
        assert refused.value.status == 403
        for headers in ({"Origin": APP}, {}):
            async with http.ws_connect(f"{gw.url}/tasks/ws", headers=headers) as ws:
                assert (await ws.receive(timeout=5)).data.startswith("hello from")


async def test_without_cors_origins_nothing_changes(
    tmp_path: Path, start_upstream: StartUpstream
) -> None:
    up = await start_upstream("tasks")
    async with (
        gateway_process(tmp_path, {"tasks": [up.url]}) as gw,
        aiohttp.ClientSession() as http,
    ):
        async with http.options(f"{gw.url}/tasks/echo", headers=PREFLIGHT) as resp:
            assert resp.status == 200  # forwarded to the service, as before
            assert not any(h.startswith("Access-Control-") for h in resp.headers)
        async with http.get(f"{gw.url}/tasks/echo", headers={"Origin": EVIL}) as resp:
            assert resp.status == 200
            assert "Vary" not in resp.headers
        async with http.ws_connect(f"{gw.url}/tasks/ws", headers={"Origin": EVIL}) as ws:
            assert (await ws.receive(timeout=5)).data.startswith("hello from")


async def test_ratelimit_fields_count_down_and_come_with_the_429(
    tmp_path: Path, start_upstream: StartUpstream
) -> None:
    up = await start_upstream("tasks")
    limits = {"rate_limit_rps": "0.5", "rate_limit_burst": "5"}
    async with (
        gateway_process(tmp_path, {"tasks": [up.url]}, **limits) as gw,
        aiohttp.ClientSession() as http,
    ):
        seen: list[tuple[int, int]] = []
        for _ in range(5):
            async with http.get(f"{gw.url}/tasks/echo") as resp:
                assert resp.status == 200
                assert resp.headers["RateLimit-Policy"] == '"default";q=5;w=10'
                seen.append(_fields(resp))
        print("RateLimit r, t:", seen)
        assert [r for r, _ in seen] == [4, 3, 2, 1, 0]
        # t: seconds until the bucket is full again, 2 s per token spent at 0.5/s.
        assert all(1 <= t <= 10 for _, t in seen)
        assert [t for _, t in seen] == sorted(t for _, t in seen)
        async with http.get(f"{gw.url}/tasks/echo") as resp:
            assert resp.status == 429
            assert resp.headers["RateLimit-Policy"] == '"default";q=5;w=10'
            remaining, reset = _fields(resp)
            assert remaining == 0
            assert 9 <= reset <= 10
            assert 1 <= int(resp.headers["Retry-After"]) <= 2
            assert (await resp.json())["code"] == "rate_limited"
        # Health is not limited and says nothing about limits.
        async with http.get(f"{gw.url}/healthz") as resp:
            assert resp.status == 200
            assert "RateLimit" not in resp.headers


async def _metric(gw: GatewayProcess, name: str) -> float | None:
    async with aiohttp.ClientSession() as http, http.get(gw.metrics_url) as resp:
        text = await resp.text()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


async def _until(predicate, within_s: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within_s
    while not await predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def _sharing(gws: list[GatewayProcess], processes: int) -> bool:
    for gw in gws:
        if await _metric(gw, "gateway_ratelimit_shared") != 1.0:
            return False
        if await _metric(gw, "gateway_ratelimit_processes") != processes:
            return False
    return True


async def _hammer(gws: list[GatewayProcess], total: int, workers: int) -> tuple[int, int, float]:
    """`total` GETs from one client, spread over the gateways by `workers` at once:
    (admitted, refused, seconds from the first request to the last answer)."""
    counts = {200: 0, 429: 0}
    sent = 0

    async def worker(http: aiohttp.ClientSession, n: int) -> None:
        nonlocal sent
        while sent < total:
            sent += 1
            url = gws[sent % len(gws)].url
            async with http.get(f"{url}/tasks/echo") as resp:
                await resp.read()
                counts[resp.status] = counts.get(resp.status, 0) + 1

    connector = aiohttp.TCPConnector(limit=workers * 2)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.monotonic()
        await asyncio.gather(*(worker(http, n) for n in range(workers)))
        elapsed = time.monotonic() - started
    assert set(counts) == {200, 429}, counts
    return counts[200], counts[429], elapsed


async def test_two_gateways_sharing_nats_admit_one_limit_between_them(
    tmp_path: Path, start_upstream: StartUpstream, nats_server: NatsServer
) -> None:
    up = await start_upstream("tasks")
    up.record = False
    rate, burst = 40, 40
    settings = {
        "rate_limit_rps": str(rate),
        "rate_limit_burst": str(burst),
        "nats_url": nats_server.url,
    }
    async with (
        gateway_process(tmp_path / "a", {"tasks": [up.url]}, **settings) as a,
        gateway_process(tmp_path / "b", {"tasks": [up.url]}, **settings) as b,
    ):
        await _until(lambda: _sharing([a, b], 2))
        admitted, refused, elapsed = await _hammer([a, b], total=6000, workers=8)
        limit = burst + rate * elapsed
        print(
            f"two gateways, one client: {admitted} admitted, {refused} refused in"
            f" {elapsed:.2f} s; the limit allows {limit:.0f}"
            f" ({100 * (admitted - limit) / limit:+.1f} %)"
        )
        assert abs(admitted - limit) <= 0.10 * limit


async def test_without_nats_each_gateway_limits_on_its_own_then_shares_once_it_is_up(
    tmp_path: Path, start_upstream: StartUpstream
) -> None:
    up = await start_upstream("tasks")
    port = free_port()  # nothing listens there yet
    settings = {
        "rate_limit_rps": "0.01",
        "rate_limit_burst": "5",
        "nats_url": f"nats://127.0.0.1:{port}",
    }
    async with (
        gateway_process(tmp_path / "a", {"tasks": [up.url]}, **settings) as a,
        gateway_process(tmp_path / "b", {"tasks": [up.url]}, **settings) as b,
    ):
        # Both serve at once (ready without NATS), each with its own buckets.
        await asyncio.sleep(1.5)  # several connection attempts
        admitted, refused, _ = await _hammer([a, b], total=30, workers=1)
        print(f"NATS down: {admitted} admitted of 30 by two gateways (burst 5 each)")
        assert admitted == 10
        assert refused == 20
        for gw in (a, b):
            assert await _metric(gw, "gateway_ratelimit_shared") == 0.0
            said = [line for line in gw.lines if '"gateway.ratelimit_local"' in line]
            assert len(said) == 1, said  # logged once, not per attempt
        # NATS comes up on that address: they find it and each other.
        server = NatsServer(tmp_path / "nats", port=port).start()
        try:
            await _until(lambda: _sharing([a, b], 2))
            assert all(
                sum('"gateway.ratelimit_shared"' in line for line in gw.lines) == 1 for gw in (a, b)
            )
        finally:
            server.stop()
