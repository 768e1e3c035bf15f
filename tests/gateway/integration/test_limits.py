"""What the gateway answers itself: 429, 413, 504, 503 while a breaker is open, /readyz."""

from __future__ import annotations

import asyncio
import time

from .conftest import StartGateway, StartUpstream, wait_until


async def _problem(resp) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    body = await resp.json()
    assert body["status"] == resp.status
    assert body["request_id"] == resp.headers["X-Request-ID"]
    return body  # type: ignore[no-any-return]


async def test_rate_limit_per_client_ip_gives_429_with_retry_after(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    up = await start_upstream("tasks")
    gw = await start_gateway({"tasks": [up]}, rate_limit_rps=1, rate_limit_burst=3)
    statuses = [(await gw.get("/tasks/echo")).status for _ in range(3)]
    assert statuses == [200, 200, 200]
    resp = await gw.get("/tasks/echo")
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) >= 1
    assert (await _problem(resp))["code"] == "rate_limited"
    assert len(up.seen) == 3  # the refused request never reached the service
    # Health and metrics are not rate limited.
    assert (await gw.get("/healthz")).status == 200


async def test_rate_limit_keys_by_forwarded_for_only_when_trusted(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    up = await start_upstream("tasks")
    gw = await start_gateway(
        {"tasks": [up]}, rate_limit_rps=1, rate_limit_burst=1, trusted_proxies=["127.0.0.0/8"]
    )
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        resp = await gw.get("/tasks/echo", headers={"X-Forwarded-For": ip})
        assert resp.status == 200
        assert (await resp.json())["headers"]["X-Forwarded-For"] == f"{ip}, 127.0.0.1"
    resp = await gw.get("/tasks/echo", headers={"X-Forwarded-For": "10.0.0.1"})
    assert resp.status == 429


async def test_body_over_the_limit_is_413_sized_or_streamed(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    up = await start_upstream("tasks")
    gw = await start_gateway({"tasks": [up]}, max_body_bytes=4096)
    resp = await gw.post("/tasks/echo", data=b"x" * 4097)
    assert resp.status == 413
    assert (await _problem(resp))["code"] == "body_too_large"

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"y" * 1024

    resp = await gw.post("/tasks/upload", data=chunks())
    assert resp.status == 413
    assert not up.seen
    resp = await gw.post("/tasks/echo", data=b"x" * 4096)  # exactly the limit is fine
    assert resp.status == 200


async def test_slow_upstream_gives_504(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    up = await start_upstream("tasks")
    gw = await start_gateway({"tasks": [up]}, upstream_timeout_s=0.3)
    started = time.monotonic()
    resp = await gw.get("/tasks/slow?s=3")
    assert resp.status == 504
    assert time.monotonic() - started < 2
    assert (await _problem(resp))["code"] == "upstream_timeout"
    resp = await gw.get("/tasks/slow?s=0.01")
    assert resp.status == 200


async def test_breaker_opens_answers_503_at_once_then_probes_and_closes(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    up = await start_upstream("tasks")
    gw = await start_gateway({"tasks": [up]}, breaker_failures=3, breaker_open_s=0.5)
    up.failing, up.fail_status = True, 503  # a dependency failed it (a 500 would not count)
    for _ in range(3):
        assert (await gw.get("/tasks/echo")).status == 503
    assert len(up.seen) == 3

    # Open: refused at once, without reaching the service.
    started = time.monotonic()
    resp = await gw.get("/tasks/echo")
    assert resp.status == 503
    assert time.monotonic() - started < 0.1
    assert int(resp.headers["Retry-After"]) >= 1
    assert (await _problem(resp))["code"] == "circuit_open"
    assert len(up.seen) == 3

    # Half-open after open_s: one probe goes; still failing, so it opens again.
    await asyncio.sleep(0.6)
    assert (await gw.get("/tasks/echo")).status == 503
    assert len(up.seen) == 4
    assert (await gw.get("/tasks/echo")).status == 503
    assert len(up.seen) == 4

    # The service recovers: the next probe succeeds and the breaker closes.
    up.failing = False
    await asyncio.sleep(0.6)
    assert (await gw.get("/tasks/echo")).status == 200
    statuses = [(await gw.get("/tasks/echo")).status for _ in range(5)]
    assert statuses == [200] * 5


async def test_half_open_lets_exactly_one_probe_through(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    up = await start_upstream("tasks")
    gw = await start_gateway(
        {"tasks": [up]}, breaker_failures=1, breaker_open_s=0.3, upstream_timeout_s=0.5
    )
    assert (await gw.get("/tasks/slow?s=2")).status == 504  # opens the breaker
    await asyncio.sleep(0.35)
    # The probe is slow (0.2 s); requests meanwhile are refused, not sent.
    probe = asyncio.create_task(gw.get("/tasks/slow?s=0.2"))
    await asyncio.sleep(0.05)
    others = [await gw.get("/tasks/echo") for _ in range(3)]
    assert [r.status for r in others] == [503, 503, 503]
    assert (await probe).status == 200
    assert (await gw.get("/tasks/echo")).status == 200


async def test_readyz_is_503_naming_the_pool_with_no_ready_address(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    auth, tasks = await start_upstream("auth"), await start_upstream("tasks")
    gw = await start_gateway({"auth": [auth], "tasks": [tasks]})
    resp = await gw.get("/readyz")
    assert resp.status == 200
    assert (await resp.json())["checks"] == {"upstream:auth": "ok", "upstream:tasks": "ok"}

    tasks.ready = False
    await wait_until(lambda: _pool_down(gw))
    resp = await gw.get("/readyz")
    assert resp.status == 503
    body = await _problem(resp)
    assert body["checks"]["upstream:auth"] == "ok"
    assert body["checks"]["upstream:tasks"] != "ok"
    assert "tasks" in body["detail"]
    assert resp.headers["Retry-After"]

    # A request for the pool with nothing healthy is a fast 503 too.
    resp = await gw.get("/tasks/echo")
    assert resp.status == 503
    assert (await _problem(resp))["code"] == "upstream_unavailable"

    tasks.ready = True
    await wait_until(lambda: not _pool_down(gw))
    assert (await gw.get("/readyz")).status == 200


async def test_every_address_unreachable_gives_503(start_gateway: StartGateway) -> None:
    from chore_common.testing.nats import free_port

    gw = await start_gateway({"tasks": [f"http://127.0.0.1:{free_port()}"]})
    resp = await gw.get("/tasks/echo")
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "1"
    assert (await gw.get("/readyz")).status == 503


def _pool_down(gw) -> bool:  # type: ignore[no-untyped-def]
    from chore_gateway.keys import PROXY

    return not gw.server.app[PROXY].pools["tasks"].is_ready()
