"""The tasks service over real HTTP, a real database and a real nats-server.

Tokens come from a stand-in issuer: an Ed25519 key whose JWKS is served over real HTTP on a
free port, so the service fetches and verifies keys exactly as it does from auth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import nats
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.contracts.envelope import Envelope
from chore_common.testing.apps import Client, StartApp, app_starter, migrated_engine
from chore_common.testing.issuer import Issuer, User
from chore_common.testing.nats import NatsServer
from chore_tasks.adapters.uow import TasksUnitOfWork
from chore_tasks.app import MIGRATIONS, create_app
from chore_tasks.settings import TasksSettings

__all__ = ["Client", "Issuer", "User"]  # the tests import them from here


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(database_url, MIGRATIONS, pool_size=20) as made:
        yield made


@pytest.fixture
def uow(engine: AsyncEngine) -> Callable[[], TasksUnitOfWork]:
    return lambda: TasksUnitOfWork(engine, producer="tasks")


@pytest.fixture
def tasks_settings(
    database_url: str, nats_server: NatsServer, tmp_path: Path, issuer: Issuer
) -> TasksSettings:
    return TasksSettings(
        database_url=database_url,
        nats_url=nats_server.url,
        var_dir=tmp_path,
        jwks_url=issuer.jwks_url,
        migrate_on_start=True,
        scheduler_poll_s=0.1,
        job_backoff_base_s=0.1,
        job_backoff_factor=2.0,
    )


@pytest.fixture
async def start_tasks(tasks_settings: TasksSettings) -> AsyncIterator[StartApp]:
    """Start a tasks app (optionally with changed settings) on a free port."""
    async with app_starter(create_app, tasks_settings) as start:
        yield start


@pytest.fixture
async def tasks(start_tasks: StartApp) -> Client:
    return await start_tasks()


async def task_events(
    nats_url: str, task_id: UUID, *, count: int, timeout_s: float = 10.0
) -> list[Envelope]:
    """The TASKS stream's events about `task_id`, in stream order, once `count` have arrived."""
    nc = await nats.connect(nats_url)
    found: list[Envelope] = []
    done = asyncio.Event()

    async def on_message(msg: Any) -> None:
        envelope = Envelope.from_bytes(msg.data)
        if envelope.data.get("task_id") == str(task_id):
            found.append(envelope)
            if len(found) >= count:
                done.set()

    try:
        sub = await nc.jetstream().subscribe("tasks.>", cb=on_message, ordered_consumer=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout_s)
        await sub.unsubscribe()
    finally:
        await nc.close()
    return found


def body_of(data: object) -> str:
    return json.dumps(data)
