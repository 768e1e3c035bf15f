"""Retries on another replica: any request whose connection could not be made; after a reset
only GET/HEAD and POSTs with an Idempotency-Key; at most once, within the deadline; counted."""

from __future__ import annotations

import time

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from chore_gateway.domain.pool import Health
from chore_gateway.keys import METRICS_URL, PROXY

from .conftest import Client, StartGateway, StartUpstream


async def _retries(http: aiohttp.ClientSession, gw: Client) -> dict[str, float]:
    async with http.get(gw.server.app[METRICS_URL]) as response:
        text = await response.text()
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "gateway_retries_total" and sample.labels["service"] == "tasks"
    }


def _dying_is_up(gw: Client) -> bool:
    return gw.server.app[PROXY].pools["tasks"].addresses[0].health is Health.UP


def _passes_a_health_check(gw: Client) -> None:
    """What the next passing health check does (they are 30 s apart here, to stay out of
    the way): the replica takes requests again."""
    gw.server.app[PROXY].pools["tasks"].addresses[0].health = Health.UP


async def test_a_reset_is_retried_for_safe_requests_only(
    start_upstream: StartUpstream, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    dying, healthy = await start_upstream("dying"), await start_upstream("healthy")
    gw = await start_gateway(
        {"tasks": [dying, healthy]}, breaker_failures=100, health_interval_s=30
    )
    dying.dropping = True  # takes each request, then the connection dies with no answer
    before = (await _retries(http, gw)).get("reset", 0.0)

    # Each round, once a health check has put the dying replica back: round robin sends one
    # of the two requests there first; it breaks, and the request goes to the healthy one.
    for i in range(4):
        _passes_a_health_check(gw)
        assert (await gw.get("/tasks/echo")).status == 200
        resp = await gw.post("/tasks/echo", json={"n": i}, headers={"Idempotency-Key": f"k{i}"})
        assert resp.status == 200
        assert (await resp.json())["upstream"] == "healthy"
        # The broken connection took the replica out until its next passing health check.
        assert not _dying_is_up(gw)
    assert len(dying.seen) == 4
    assert len(healthy.seen) == 8  # every one answered once, by the healthy replica
    assert (await _retries(http, gw))["reset"] == before + 4

    # A POST without a key may have been acted on: it is not sent again.
    for i in range(4):
        _passes_a_health_check(gw)
        statuses = [(await gw.post("/tasks/echo", json={"n": i})).status for _ in range(2)]
        assert sorted(statuses) == [200, 503]
    assert len(dying.seen) == 8  # each reached the dying replica once, no more
    assert len(healthy.seen) == 12
    assert (await _retries(http, gw))["reset"] == before + 4


async def test_at_most_one_retry(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    a, b, c = [await start_upstream(n) for n in ("a", "b", "c")]
    gw = await start_gateway({"tasks": [a, b, c]}, breaker_failures=100)
    for up in (a, b, c):
        up.dropping = True
    resp = await gw.get("/tasks/echo")
    assert resp.status == 503
    assert len(a.seen) + len(b.seen) + len(c.seen) == 2


async def test_a_retry_runs_within_the_requests_deadline(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    a, b = await start_upstream("a"), await start_upstream("b")
    gw = await start_gateway({"tasks": [a, b]}, breaker_failures=100, upstream_timeout_s=0.6)
    a.dropping, a.delay_s = True, 0.4  # dies after 0.4 s of the 0.6 s
    b.delay_s = 0.4  # would answer 0.4 s after the retry began: past the deadline
    started = time.monotonic()
    resp = await gw.get("/tasks/echo")  # the first request: round robin starts with `a`
    took = time.monotonic() - started
    assert (len(a.seen), len(b.seen)) == (1, 1)  # retried on `b`, out of time there
    assert resp.status == 504
    assert took < 0.6 + 0.3


async def test_a_refused_connection_is_retried_for_any_method(
    start_upstream: StartUpstream, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    from chore_common.testing.nats import free_port

    live = await start_upstream("live")
    gw = await start_gateway(
        {"tasks": [f"http://127.0.0.1:{free_port()}", live]}, health_interval_s=30
    )
    # Health checks already marked the dead address down; mark it up again as if it had
    # just died, so that the next request tries it and meets a refused connection.
    from chore_gateway.domain.pool import Health
    from chore_gateway.keys import PROXY

    gw.server.app[PROXY].pools["tasks"].addresses[0].health = Health.UNKNOWN
    before = (await _retries(http, gw)).get("connect", 0.0)
    for method in ("POST", "PATCH", "DELETE"):
        resp = await gw.request(method, "/tasks/echo", json={"m": method})
        assert resp.status == 200, method
    assert [r["method"] for r in live.seen] == ["POST", "PATCH", "DELETE"]
    assert (await _retries(http, gw))["connect"] == before + 1
