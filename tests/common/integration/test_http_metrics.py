"""/metrics labels requests by route template and status, never by raw path."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from chore_common.telemetry.metrics import register_pool_gauge, unregister_pool_gauge
from chore_common.testing.demo_app import DemoSettings, create_app


@pytest.fixture
def service() -> str:
    return f"demo_{uuid.uuid4().hex[:8]}"  # metrics are process-wide: keep tests apart


@pytest.fixture
async def client(service: str) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    class Settings(DemoSettings):
        service_name = service

    async with TestClient(TestServer(create_app(Settings()))) as client:
        yield client


def series(text: str, metric: str, service: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if line.startswith(metric + "{") and f'service="{service}"' in line
    ]


async def test_a_thousand_distinct_ids_make_one_series(
    client: TestClient[web.Request, web.Application], service: str
) -> None:
    for i in range(1000):
        response = await client.get(f"/items/id-{i}")
        assert response.status == 404
    metrics = await client.get("/metrics")
    assert metrics.status == 200
    assert metrics.headers["Content-Type"].startswith("text/plain")
    text = await metrics.text()
    lines = series(text, "http_requests_total", service)
    assert lines == [
        f'http_requests_total{{method="GET",route="/items/{{id}}",service="{service}",'
        f'status="404"}} 1000.0'
    ]
    assert "id-17" not in text
    buckets = series(text, "http_request_duration_seconds_count", service)
    assert len(buckets) == 1
    assert buckets[0].endswith(" 1000.0")


async def test_unmatched_paths_share_one_label(
    client: TestClient[web.Request, web.Application], service: str
) -> None:
    for i in range(20):
        await client.get(f"/random/{i}")
    text = await (await client.get("/metrics")).text()
    assert series(text, "http_requests_total", service) == [
        f'http_requests_total{{method="GET",route="<unmatched>",service="{service}",'
        f'status="404"}} 20.0'
    ]


async def test_status_is_a_label(
    client: TestClient[web.Request, web.Application], service: str
) -> None:
    created = await client.post("/items", json={"name": "mop"})
    await client.get(f"/items/{(await created.json())['id']}")
    await client.get("/items/missing")
    await client.get("/boom")
    text = await (await client.get("/metrics")).text()
    lines = series(text, "http_requests_total", service)
    assert any('route="/items",' in line and 'status="201"' in line for line in lines)
    assert any('route="/items/{id}"' in line and 'status="200"' in line for line in lines)
    assert any('route="/items/{id}"' in line and 'status="404"' in line for line in lines)
    assert any('route="/boom"' in line and 'status="500"' in line for line in lines)


async def test_event_loop_lag_and_pool_gauges_are_exposed(
    client: TestClient[web.Request, web.Application], service: str
) -> None:
    register_pool_gauge("main", lambda: 3, service=service)
    try:
        text = await (await client.get("/metrics")).text()
    finally:
        unregister_pool_gauge("main", service=service)
    assert f'db_pool_in_use{{pool="main",service="{service}"}} 3.0' in text
    assert "event_loop_lag_seconds_bucket" in text


async def test_metrics_defined_elsewhere_with_prometheus_client_are_served(
    client: TestClient[web.Request, web.Application],
) -> None:
    from prometheus_client import Counter

    name = f"test_events_{uuid.uuid4().hex[:8]}"
    Counter(name, "defined by another module, like the event bus").inc(5)
    text = await (await client.get("/metrics")).text()
    assert f"{name}_total 5.0" in text
