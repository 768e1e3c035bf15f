"""Routing: prefixes to pools, round robin, dead addresses skipped, headers, streaming."""

from __future__ import annotations

import re

import aiohttp
import pytest

from chore_gateway.keys import METRICS_URL

from .conftest import StartGateway, StartUpstream, wait_until


async def test_each_prefix_goes_to_its_service(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    auth, tasks = await start_upstream("auth"), await start_upstream("tasks")
    gw = await start_gateway({"auth": [auth], "tasks": [tasks]})

    resp = await gw.get("/auth/echo?x=1&y=%20z")
    assert resp.status == 200
    body = await resp.json()
    assert body["upstream"] == "auth"
    assert body["path_qs"] == "/auth/echo?x=1&y=%20z"
    assert resp.headers["X-Upstream"] == "auth"

    body = await (await gw.get("/tasks/echo")).json()
    assert body["upstream"] == "tasks"

    resp = await gw.get("/messaging/echo")  # not configured: no such route
    assert resp.status == 404
    assert resp.headers["Content-Type"].startswith("application/problem+json")


async def test_round_robin_over_the_pool_and_a_dead_address_is_skipped(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    a, b = await start_upstream("a"), await start_upstream("b")
    dead = f"http://127.0.0.1:{_closed_port()}"
    gw = await start_gateway({"tasks": [a, b, dead]})

    names = [(await (await gw.get("/tasks/echo")).json())["upstream"] for _ in range(6)]
    assert sorted(names) == ["a", "a", "a", "b", "b", "b"]
    assert names[0] != names[1]  # alternates, not a then a

    # An address that dies after start: its connection error marks it down and the request
    # (idempotent) is retried once on another address, so the client sees no error.
    await b.stop()
    for _ in range(6):
        resp = await gw.get("/tasks/echo")
        assert resp.status == 200
        assert (await resp.json())["upstream"] == "a"


async def test_a_post_is_retried_when_nothing_reached_the_dead_address(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    a, b = await start_upstream("a"), await start_upstream("b")
    gw = await start_gateway({"tasks": [a, b]})
    await b.stop()  # still marked up until a check or a request finds out
    bodies = []
    for i in range(4):
        resp = await gw.post("/tasks/echo", json={"n": i})
        assert resp.status == 200
        bodies.append((await resp.json())["body"])
    assert bodies == [f'{{"n": {i}}}' for i in range(4)]
    assert len(a.seen) == 4  # each POST handled exactly once


async def test_headers_cross_as_a_proxy_should(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    auth = await start_upstream("auth")
    gw = await start_gateway({"auth": [auth]})
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    resp = await gw.get(
        "/auth/echo",
        headers={
            "X-Request-ID": "client-chosen-id.1",
            "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
            "tracestate": "vendor=1",
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "do not forward",
            "Authorization": "Bearer abc",
            "X-Forwarded-For": "6.6.6.6",
        },
    )
    assert resp.status == 200
    assert resp.headers["X-Request-ID"] == "client-chosen-id.1"
    seen = (await resp.json())["headers"]
    assert seen["X-Request-ID"] == "client-chosen-id.1"
    # The trace continues: same trace id, the gateway's span as parent.
    match = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01", seen["traceparent"])
    assert match is not None
    assert match.group(1) == trace_id
    assert match.group(2) != "00f067aa0ba902b7"
    assert seen["tracestate"] == "vendor=1"
    assert seen["Authorization"] == "Bearer abc"
    assert "X-Secret-Hop" not in seen
    # Not trusted by default: the client cannot choose the address the services see.
    assert seen["X-Forwarded-For"] == "127.0.0.1"
    assert seen["X-Forwarded-Proto"] == "http"
    assert seen["X-Forwarded-Host"].startswith("127.0.0.1:")
    assert seen["Host"] == auth.url.removeprefix("http://")


async def test_a_trace_the_caller_did_not_sample_goes_on_unsampled(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    # Nothing of an unsampled trace is recorded (the gateway starts no CLIENT span for it),
    # yet the trace stays one: same trace id, not sampled, the gateway's span as parent.
    auth = await start_upstream("auth")
    gw = await start_gateway({"auth": [auth]})
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    parents = set()
    for _ in range(2):
        resp = await gw.get(
            "/auth/echo", headers={"traceparent": f"00-{trace_id}-b7ad6b7169203331-00"}
        )
        assert resp.status == 200
        seen = (await resp.json())["headers"]
        match = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-00", seen["traceparent"])
        assert match is not None, seen["traceparent"]
        assert match.group(1) == trace_id
        assert match.group(2) not in ("b7ad6b7169203331", "0" * 16)
        parents.add(match.group(2))
    assert len(parents) == 2  # each request's own span, not a fixed id


async def test_an_insane_request_id_is_replaced_and_one_is_made_when_missing(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    auth = await start_upstream("auth")
    gw = await start_gateway({"auth": [auth]})
    resp = await gw.get("/auth/echo", headers={"X-Request-ID": "bad id\twith spaces"})
    rid = resp.headers["X-Request-ID"]
    assert rid != "bad id\twith spaces"
    assert (await resp.json())["headers"]["X-Request-ID"] == rid

    resp = await gw.get("/auth/echo")
    rid = resp.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    seen = (await resp.json())["headers"]
    assert seen["X-Request-ID"] == rid
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", seen["traceparent"])


async def test_bodies_stream_both_ways(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    up = await start_upstream("tasks")
    gw = await start_gateway({"tasks": [up]}, max_body_bytes=4 * 1024 * 1024)

    resp = await gw.get("/tasks/big?chunks=128")  # 2 MiB, chunked
    assert resp.status == 200
    data = await resp.read()
    assert len(data) == 128 * 16384
    assert data[16384 * 5] == 5

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 65536

    resp = await gw.post("/tasks/upload", data=chunks())  # chunked upload, 2.5 MiB
    assert resp.status == 200
    assert (await resp.json())["received"] == 40 * 65536


async def test_upstream_status_and_body_pass_through(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    up = await start_upstream("tasks")
    up.failing = True
    gw = await start_gateway({"tasks": [up]}, breaker_failures=100)
    resp = await gw.get("/tasks/echo")
    assert resp.status == 500
    assert await resp.json() == {"error": "boom"}


def _closed_port() -> int:
    from chore_common.testing.nats import free_port

    return free_port()


async def test_health_checks_mark_addresses_down_and_up(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    a, b = await start_upstream("a"), await start_upstream("b")
    gw = await start_gateway({"tasks": [a, b]})
    b.ready = False  # answers, but says it is not ready (draining, DB down...)
    await wait_until(lambda: _health(gw, 1) == "down")
    names = {(await (await gw.get("/tasks/echo")).json())["upstream"] for _ in range(4)}
    assert names == {"a"}
    b.ready = True
    await wait_until(lambda: _health(gw, 1) == "up")
    names = {(await (await gw.get("/tasks/echo")).json())["upstream"] for _ in range(4)}
    assert names == {"a", "b"}


def _health(gw, index: int) -> str:  # type: ignore[no-untyped-def]
    from chore_gateway.keys import PROXY

    return str(gw.server.app[PROXY].pools["tasks"].addresses[index].health)


async def test_gateway_metrics_are_its_own(
    start_upstream: StartUpstream, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    up = await start_upstream("tasks")
    gw = await start_gateway({"tasks": [up]})
    await gw.get("/tasks/echo")
    text = await (await http.get(gw.server.app[METRICS_URL])).text()
    assert 'gateway_upstream_up{address="' in text
    assert 'route="/tasks/{tail}"' in text


async def test_an_internal_path_is_never_forwarded(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    auth = await start_upstream("auth")
    gw = await start_gateway({"auth": [auth]})
    for method, path in [("POST", "/auth/introspect"), ("GET", "/auth/%69ntrospect")]:
        resp = await gw.request(method, path, json={"token": "t"})
        assert resp.status == 404, path
        assert resp.headers["Content-Type"].startswith("application/problem+json")
        assert (await resp.json())["code"] == "not_found"
    assert auth.seen == []  # the service never heard of them
    assert (await gw.post("/auth/echo", json={})).status == 200  # the rest of /auth goes on

    other = await start_gateway({"auth": [auth]}, internal_paths=["/auth/echo"])
    forwarded = await other.post("/auth/introspect", json={})  # the list was replaced:
    assert forwarded.headers["Content-Type"].startswith("text/plain")  # the upstream's 404
    assert (await other.get("/auth/echo")).status == 404


def test_internal_paths_must_be_exact_paths() -> None:
    from chore_gateway.settings import GatewaySettings

    assert GatewaySettings(internal_paths='["/a/b"]').internal_paths == ["/a/b"]
    for bad in ('["a/b"]', '["/a/{tail}"]', '["/a?x=1"]'):
        with pytest.raises(ValueError, match="exact path"):
            GatewaySettings(internal_paths=bad)


async def test_the_gateways_own_paths_answer_problems_with_request_ids_counted_and_logged(
    start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    """Not only the proxied routes: an unknown path, a wrong method and a missing asset
    get problem+json, an id and a count from the kit's middlewares too."""
    from chore_common.testing.nats import free_port

    gw = await start_gateway({"tasks": [f"http://127.0.0.1:{free_port()}"]})
    cases = [
        ("GET", "/nowhere", 404),
        ("GET", "/", 404),
        ("POST", "/healthz", 405),
        ("HEAD", "/docs", 405),
        ("GET", "/docs/assets/no-such-file.js", 404),
        ("GET", "/docs/assets/..%2F..%2Fpyproject.toml", 404),
    ]
    for method, path, status in cases:
        resp = await gw.request(method, path, headers={"X-Request-ID": f"own-{status}"})
        assert resp.status == status, (method, path)
        assert resp.headers["X-Request-ID"] == f"own-{status}"
        if method != "HEAD":
            assert resp.headers["Content-Type"].startswith("application/problem+json")
            assert (await resp.json())["request_id"] == f"own-{status}"
    assert (await gw.post("/healthz")).headers["Allow"] == "GET"
    assert (await gw.head("/docs/assets/swagger-ui.css")).status == 200
    assert (await gw.get("/healthz")).status == 200

    text = await (await http.get(gw.server.app[METRICS_URL])).text()
    assert 'method="GET",route="<unmatched>",service="gateway",status="404"' in text
    assert 'method="POST",route="/healthz",service="gateway",status="405"' in text
    assert 'route="/docs/assets/{name}",service="gateway",status="404"' in text
