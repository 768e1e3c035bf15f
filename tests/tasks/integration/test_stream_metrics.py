"""The JetStream gauges the alert rules read, from /metrics of a running tasks service: a
`python -m chore_tasks` process with two workers, its own nats-server and database. Tasks
posted over HTTP become events in TASKS, and /metrics shows the stream's size against the
size cap set by TASKS_STREAM_MAX_BYTES, and the DLQ (empty)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chore_common.db.migrations import upgrade_head
from chore_common.testing.nats import NatsServer, free_port
from chore_tasks.app import MIGRATIONS

from .conftest import Issuer

pytestmark = pytest.mark.db

CAP = 10_000_000


@pytest.fixture
async def tasks_process(
    database_url: str, nats_factory: Callable[[], NatsServer], issuer: Issuer, tmp_path: Path
) -> AsyncIterator[str]:
    await asyncio.to_thread(upgrade_head, database_url, MIGRATIONS)
    port = free_port()
    env = {
        **os.environ,
        "TASKS_PORT": str(port),
        "TASKS_WORKERS": "2",
        "TASKS_DATABASE_URL": database_url,
        "TASKS_MIGRATE_ON_START": "false",
        "TASKS_NATS_URL": nats_factory().url,
        "TASKS_JWKS_URL": issuer.jwks_url,
        "TASKS_VAR_DIR": str(tmp_path),
        "TASKS_STREAM_MAX_BYTES": str(CAP),
        "TASKS_STREAM_METRICS_INTERVAL_S": "0.2",
    }
    log = (tmp_path / "tasks.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chore_tasks", env=env, stdout=log, stderr=log
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        await process.wait()
        log.close()


async def samples(http: aiohttp.ClientSession, url: str) -> dict[tuple[str, str], float]:
    async with http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    return {
        (sample.name, sample.labels.get("stream", "")): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("jetstream_stream")
        for sample in family.samples
    }


async def wait_until(
    check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 30.0
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await check():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.1)


async def test_metrics_show_the_owned_stream_and_the_dead_letters(
    tasks_process: str, issuer: Issuer
) -> None:
    owner = issuer.user("client")
    body = {"title": "Fix a tap", "description": "It drips", "category": "plumbing",
            "budget_cents": 5000}  # fmt: skip
    async with aiohttp.ClientSession() as http:

        async def healthy() -> bool:
            try:
                async with http.get(f"{tasks_process}/readyz") as resp:
                    return resp.status == 200
            except aiohttp.ClientConnectionError:
                return False

        await wait_until(healthy, "the tasks service never became ready")
        for _ in range(3):
            async with http.post(f"{tasks_process}/tasks", json=body, headers=owner.headers) as r:
                assert r.status == 201, await r.text()

        async def three_events() -> bool:
            return (await samples(http, tasks_process)).get(
                ("jetstream_stream_messages", "TASKS")
            ) == 3

        await wait_until(three_events, "jetstream_stream_messages{stream=TASKS} never reached 3")
        seen = await samples(http, tasks_process)

    assert seen[("jetstream_stream_max_bytes", "TASKS")] == CAP
    assert 0 < seen[("jetstream_stream_bytes", "TASKS")] < CAP
    assert seen[("jetstream_stream_max_age_seconds", "TASKS")] == 7 * 24 * 3600
    assert seen[("jetstream_stream_messages", "DLQ")] == 0
    assert seen[("jetstream_stream_max_bytes", "DLQ")] == -1
    # A service reports the stream it owns (and the DLQ), never another service's.
    assert {stream for _, stream in seen} == {"TASKS", "DLQ"}
