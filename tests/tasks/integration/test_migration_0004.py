"""Migration 0004 moves existing offers: each starts at version 1, updated when it was made;
and it goes back down."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from alembic import command
from sqlalchemy import Uuid, column, insert, select, table, text

from chore_common.db import create_engine
from chore_common.db.migrations import alembic_config
from chore_common.db.types import UtcDateTime
from chore_tasks.app import MIGRATIONS

pytestmark = pytest.mark.db

# The two tables as revision 0002 left them (lightweight: only the columns written here).
OLD_TASKS = table(
    "tasks",
    *(column(n, Uuid) for n in ("id", "owner_id")),
    *(column(n) for n in ("title", "description", "category", "budget_cents", "status")),
    column("version"),
    *(column(n, UtcDateTime) for n in ("created_at", "updated_at")),
)
OLD_OFFERS = table(
    "offers",
    *(column(n, Uuid) for n in ("id", "task_id", "tasker_id")),
    *(column(n) for n in ("price_cents", "message", "status")),
    column("created_at", UtcDateTime),
)


async def test_existing_offers_get_version_one_and_their_creation_time(database_url: str) -> None:
    config = alembic_config(database_url, MIGRATIONS)
    await asyncio.to_thread(command.upgrade, config, "0002")
    task_id, offer_id, made = uuid4(), uuid4(), datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(OLD_TASKS),
                {"id": task_id, "owner_id": uuid4(), "title": "Mow", "description": "",
                 "category": "garden", "budget_cents": 500, "status": "open", "version": 1,
                 "created_at": made, "updated_at": made},
            )  # fmt: skip
            await conn.execute(
                insert(OLD_OFFERS),
                {"id": offer_id, "task_id": task_id, "tasker_id": uuid4(), "price_cents": 400,
                 "message": "hi", "status": "open", "created_at": made},
            )  # fmt: skip
        await asyncio.to_thread(command.upgrade, config, "0004")
        async with engine.connect() as conn:
            query = select(column("version"), column("updated_at", UtcDateTime))
            row = (await conn.execute(query.select_from(OLD_OFFERS))).one()
            edits = (await conn.execute(text("SELECT count(*) FROM task_edits"))).scalar()
        assert row.version == 1
        assert row.updated_at == made
        assert edits == 0
        await asyncio.to_thread(command.downgrade, config, "0002")
        async with engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM offers"))).scalar()
        assert count == 1
    finally:
        await engine.dispose()
