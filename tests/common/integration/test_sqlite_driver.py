"""The embedded default's driver (chore_common.db.sqlite_driver) on a real SQLite file:
one trip to the connection's thread per statement, and this process's write transactions
queued on one lock instead of polling SQLite for its write lock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from common.busapp import APPLIED, create_schema
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.db import UnitOfWork, create_engine
from chore_common.db.sqlite_driver import OneTripSQLiteDialect

pytestmark = pytest.mark.db


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    await create_schema(made)
    yield made
    await made.dispose()


def without_sqlites_own_wait(engine: AsyncEngine) -> None:
    """busy_timeout 0: a transaction that met another's write lock would fail at once."""

    @event.listens_for(engine.sync_engine, "connect")
    def no_wait(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()


async def count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(APPLIED))).scalar_one())


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


async def test_concurrent_transactions_of_one_process_take_turns_without_polling_sqlite(
    engine: AsyncEngine,
) -> None:
    without_sqlites_own_wait(engine)

    async def write(worker: int) -> None:
        async with UnitOfWork(engine) as uow:
            await uow.conn.execute(
                APPLIED.insert().values(event_id=uuid4(), consumer="w", n=worker)
            )
            await asyncio.sleep(0.005)  # still open while the others want to start
            await uow.commit()

    await asyncio.gather(*(write(w) for w in range(20)))
    assert await count(engine) == 20


async def test_a_transaction_cancelled_midway_lets_the_next_one_in(engine: AsyncEngine) -> None:
    inside = asyncio.Event()

    async def stuck() -> None:
        async with engine.begin() as conn:
            await conn.execute(APPLIED.insert().values(event_id=uuid4(), consumer="x", n=0))
            inside.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(stuck())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(2):
        async with engine.begin() as conn:
            await conn.execute(APPLIED.insert().values(event_id=uuid4(), consumer="y", n=1))
    assert await count(engine) == 1  # the cancelled one rolled back


async def test_a_writer_kept_waiting_past_the_timeout_is_told_the_database_is_locked(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(OneTripSQLiteDialect, "write_lock_timeout_s", 0.2)
    holding = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with engine.begin() as conn:
            await conn.execute(APPLIED.insert().values(event_id=uuid4(), consumer="h", n=0))
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    with pytest.raises(OperationalError, match="database is locked"):
        async with engine.begin() as conn:
            await conn.execute(APPLIED.insert().values(event_id=uuid4(), consumer="w", n=1))
    release.set()
    await holder
    async with engine.begin() as conn:  # and the lock works again afterwards
        await conn.execute(APPLIED.insert().values(event_id=uuid4(), consumer="w", n=2))
    assert await count(engine) == 2


async def test_reads_outside_a_transaction_do_not_wait_for_a_writer(engine: AsyncEngine) -> None:
    release = asyncio.Event()
    holding = asyncio.Event()

    async def hold() -> None:
        async with engine.begin() as conn:
            await conn.execute(APPLIED.insert().values(event_id=uuid4(), consumer="h", n=0))
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    async with asyncio.timeout(2), engine.connect() as conn:
        reader = await conn.execution_options(isolation_level="AUTOCOMMIT")
        seen = (await reader.execute(select(func.count()).select_from(APPLIED))).scalar_one()
    release.set()
    await holder
    assert seen == 0  # WAL: the uncommitted row is not visible, and nothing waited for it
