"""The gateway over real HTTP in front of real upstream aiohttp apps on free ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

from chore_common.testing.apps import Client, StartedApps
from chore_gateway.app import create_app
from chore_gateway.settings import GatewaySettings

from .upstream import Upstream

StartUpstream = Callable[[str], Awaitable[Upstream]]
StartGateway = Callable[..., Awaitable[Client]]


@pytest.fixture
async def start_upstream() -> AsyncIterator[StartUpstream]:
    started: list[Upstream] = []

    async def start(name: str) -> Upstream:
        upstream = Upstream(name)
        await upstream.start()
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        await upstream.stop()


@pytest.fixture
async def start_gateway(tmp_path: Any) -> AsyncIterator[StartGateway]:
    """A gateway over the given pools ({"auth": [Upstream or URL, ...]}), health checked
    once before it is handed over."""
    started = StartedApps()

    async def start(pools: dict[str, list[Upstream | str]], **changes: Any) -> Client:
        upstreams = {
            name: [u if isinstance(u, str) else u.url for u in members]
            for name, members in pools.items()
        }
        settings = GatewaySettings(
            upstreams=upstreams,
            var_dir=tmp_path,
            health_interval_s=changes.pop("health_interval_s", 0.2),
            health_timeout_s=changes.pop("health_timeout_s", 0.5),
            metrics_port=changes.pop("metrics_port", 0),  # any free port: tests run side by side
            **changes,
        )
        client = await started.start(create_app(settings))
        # Once any app here configured tracing, new client sessions are instrumented and
        # would replace the test's own traceparent with theirs.
        AioHttpClientInstrumentor.uninstrument_session(client.session)
        await wait_until(lambda: _checked(client))
        return client

    yield start
    await started.close()


def _checked(client: Client) -> bool:
    from chore_gateway.domain.pool import Health
    from chore_gateway.keys import PROXY

    proxy = client.server.app[PROXY]
    return all(a.health is not Health.UNKNOWN for p in proxy.pools.values() for a in p.addresses)


async def wait_until(predicate: Callable[[], bool], within_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        AioHttpClientInstrumentor.uninstrument_session(session)
        yield session
