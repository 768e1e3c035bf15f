"""Migration 0006 moves the rows it finds: amounts get the default currency (offers their
task's), free-text locations become addresses, and old tasks are found by full text."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from uuid import uuid4

import pytest
from alembic import command
from sqlalchemy import BigInteger, DateTime, Integer, String, Text, Uuid, column, table

from chore_common.db import create_engine
from chore_common.db.migrations import alembic_config
from chore_tasks.adapters.uow import TasksUnitOfWork
from chore_tasks.app import MIGRATIONS
from chore_tasks.domain.model import Actor, Location, Role
from chore_tasks.usecases.ports import TaskFilter
from tasks.unit.factories import NOW

pytestmark = pytest.mark.db

# The two tables as revision 0002 left them.
OLD_TASKS = table(
    "tasks",
    *[column(n, Uuid()) for n in ("id", "owner_id")],
    *[column(n, String()) for n in ("title", "category", "location", "status")],
    column("description", Text()),
    column("budget_cents", BigInteger()),
    column("version", Integer()),
    *[column(n, DateTime(timezone=True)) for n in ("created_at", "updated_at")],
)
OLD_OFFERS = table(
    "offers",
    *[column(n, Uuid()) for n in ("id", "task_id", "tasker_id")],
    column("price_cents", BigInteger()),
    *[column(n, Text()) for n in ("message", "status")],
    column("created_at", DateTime(timezone=True)),
)


async def test_existing_tasks_and_offers_are_moved_and_found_by_full_text(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = alembic_config(database_url, MIGRATIONS)
    await asyncio.to_thread(command.upgrade, config, "0002")
    old, bare = uuid4(), uuid4()
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            for task_id, place in ((old, "Leeds, near the station"), (bare, None)):
                await conn.execute(
                    OLD_TASKS.insert().values(
                        id=task_id,
                        owner_id=uuid4(),
                        title="Prune the apple tree",
                        description="Two old trees",
                        category="garden",
                        location=place,
                        status="open",
                        budget_cents=4200,
                        version=1,
                        created_at=NOW,
                        updated_at=NOW,
                    )
                )
            await conn.execute(
                OLD_OFFERS.insert().values(
                    id=uuid4(),
                    task_id=old,
                    tasker_id=uuid4(),
                    price_cents=4000,
                    message="",
                    status="open",
                    created_at=NOW,
                )
            )
        monkeypatch.setenv("TASKS_DEFAULT_CURRENCY", "GBP")
        await asyncio.to_thread(command.upgrade, config, "head")
        async with TasksUnitOfWork(engine, producer="tasks") as uow:
            moved, plain = await uow.tasks.get(old), await uow.tasks.get(bare)
            assert moved is not None
            assert plain is not None
            assert (moved.currency, moved.budget_cents) == ("GBP", 4200)
            assert moved.location == Location(lat=None, lon=None, address="Leeds, near the station")
            assert plain.location is None
            offers = await uow.offers.list(old, tasker_id=None, limit=5, after=None)
            assert [o.currency for o in offers.items] == ["GBP"]
            admin = Actor(uuid4(), Role.ADMIN)
            found = await uow.tasks.browse(TaskFilter(viewer=admin, words=("apple", "prune")))
            assert {t.id for t in found.items} == {old, bare}
            # An edited title is searched by its new words only (SQLite: the update trigger).
            await uow.tasks.save(replace(plain, title="Mow the lawn"), expected_version=1)
            for words, ids in ((("mow",), {bare}), (("apple",), {old})):
                found = await uow.tasks.browse(TaskFilter(viewer=admin, words=words))
                assert {t.id for t in found.items} == ids, words
            await uow.commit()
        await asyncio.to_thread(command.downgrade, config, "0002")
        async with engine.connect() as conn:
            rows = await conn.execute(OLD_TASKS.select().where(OLD_TASKS.c.id == old))
            assert rows.mappings().one()["location"] == "Leeds, near the station"
    finally:
        await engine.dispose()
