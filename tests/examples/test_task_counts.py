"""examples/task_counts: a new subscriber builds its state from the TASKS stream's history.

10,000 tasks are posted over HTTP to a real tasks service (its database, its outbox and relay,
its own nats-server); only once every event is in the stream is the example's durable
consumer created. It must replay all of them, in stream order, none missing, and its counts
per category must equal a GROUP BY over the tasks database. The example's command line,
on a second durable consumer, prints the same counts.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType

import nats
import pytest
from sqlalchemy import text

from chore_common.db import create_engine
from chore_common.testing.apps import Client, app_starter
from chore_common.testing.issuer import Issuer
from chore_common.testing.nats import NatsServer
from chore_tasks.app import create_app
from chore_tasks.settings import TasksSettings

pytestmark = [pytest.mark.db, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "task_counts" / "task_counts.py"
EVENTS = 10_000
CATEGORIES = ("cleaning", "gardening", "handyman", "moving", "plumbing", "pet care", "tutoring")
IN_FLIGHT = 32


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("task_counts", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def category(n: int) -> str:
    return CATEGORIES[(n * n + n // 7) % len(CATEGORIES)]  # uneven on purpose


@pytest.fixture
def nats_url(nats_factory: Callable[[], NatsServer]) -> str:
    return nats_factory().url  # a stream holding only this test's events


@pytest.fixture
async def tasks(
    database_url: str, nats_url: str, issuer: Issuer, tmp_path: Path
) -> AsyncIterator[Client]:
    settings = TasksSettings(
        database_url=database_url,
        nats_url=nats_url,
        var_dir=tmp_path,
        jwks_url=issuer.jwks_url,
        migrate_on_start=True,
        scheduler_enabled=False,
    )
    async with app_starter(create_app, settings) as start:
        yield await start()


async def post_tasks(tasks: Client, issuer: Issuer, count: int) -> None:
    owners = [issuer.user("client") for _ in range(20)]
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def post(n: int) -> None:
        body = {"title": f"Chore {n}", "description": "history", "category": category(n),
                "budget_cents": 1000 + n}  # fmt: skip
        async with slots:
            resp = await tasks.post("/tasks", json=body, headers=owners[n % len(owners)].headers)
            assert resp.status == 201, await resp.text()

    await asyncio.gather(*(post(n) for n in range(count)))


async def stream_holds(nats_url: str, count: int, timeout_s: float = 120.0) -> int:
    """Wait until the relay has put `count` events in TASKS; its first sequence."""
    nc = await nats.connect(nats_url)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (state := (await nc.jetstream().stream_info("TASKS")).state).messages < count:
            assert loop.time() < deadline, f"only {state.messages} of {count} events published"
            await asyncio.sleep(0.2)
        assert state.messages == count
        return int(state.first_seq)
    finally:
        await nc.close()


async def counted_in_database(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT category, COUNT(*) FROM tasks GROUP BY category")
            )
            return {category: int(count) for category, count in rows}
    finally:
        await engine.dispose()


@pytest.mark.timeout(900)
async def test_a_new_consumer_replays_the_whole_history_in_order(
    tasks: Client, issuer: Issuer, nats_url: str, database_url: str
) -> None:
    await post_tasks(tasks, issuer, EVENTS)
    first = await stream_holds(nats_url, EVENTS)

    counts = await example().task_counts(nats_url, "task-counts")  # created now, after them all

    assert counts.applied == list(range(first, first + EVENTS))  # in order, none missing
    in_database = await counted_in_database(database_url)
    assert sum(in_database.values()) == EVENTS
    assert dict(counts.by_category) == in_database
    assert len(in_database) == len(CATEGORIES)

    # What an operator running the example sees, on a consumer of its own.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), "--nats-url", nats_url, "--durable", "counts-cli",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    assert json.loads(out) == in_database
