"""The embedded default's driver (chore_common.db.sqlite_driver) on a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest
from common.busapp import APPLIED, create_schema
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.db import create_engine

pytestmark = pytest.mark.db


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    await create_schema(made)
    yield made
    await made.dispose()


async def test_a_statement_with_rows_makes_one_trip_to_the_connections_thread(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        await conn.execute(select(1))  # connected and warm
        await conn.commit()
        aio = (await conn.get_raw_connection()).driver_connection
        trips: list[object] = []
        real = aio._execute

        async def counted(fn: object, *args: object, **kw: object) -> object:
            trips.append(fn)
            return await real(fn, *args, **kw)

        aio._execute = counted
        try:
            await conn.execute(APPLIED.insert().values(event_id=uuid4(), consumer="c", n=1))
            rows = (await conn.execute(select(APPLIED.c.n))).all()
        finally:
            del aio._execute
        await conn.commit()
    assert rows == [(1,)]
    # BEGIN IMMEDIATE, the INSERT, the SELECT with its rows: three statements, three trips.
    assert len(trips) == 3
