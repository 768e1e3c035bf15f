"""Engines from a URL, the unit of work and its outbox, on a real database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

import pytest
from common.busapp import APPLIED, PingedV1, create_schema
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.db import create_engine, database_check
from chore_common.outbox.table import OUTBOX
from chore_common.uow import UnitOfWork

pytestmark = pytest.mark.db


async def outbox_rows(engine: AsyncEngine) -> list[bytes]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(OUTBOX.c.payload))).scalars())


async def test_sqlite_engine_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'service.db'}")
    async with engine.connect() as conn:
        mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
        keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
        timeout = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()
    await engine.dispose()
    assert (mode, keys, timeout) == ("wal", 1, 5000)


async def test_concurrent_read_then_write_transactions_on_sqlite_wait_instead_of_failing(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}")
    await create_schema(engine)

    async def read_then_write(worker: int) -> None:
        for i in range(25):
            async with engine.begin() as conn:
                await conn.execute(select(func.count()).select_from(APPLIED))
                await conn.execute(
                    APPLIED.insert().values(event_id=uuid4(), consumer=f"w{worker}", n=i)
                )

    await asyncio.gather(*(read_then_write(w) for w in range(4)))
    async with engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(APPLIED))).scalar_one()
    await engine.dispose()
    assert count == 100


async def test_database_check_passes_when_the_database_answers(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await database_check(engine)
    finally:
        await engine.dispose()


async def test_unit_of_work_without_commit_keeps_neither_change_nor_event(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    await create_schema(engine)
    woken: list[bool] = []
    async with UnitOfWork(engine, producer="tasks", wake_relay=lambda: woken.append(True)) as uow:
        await uow.conn.execute(APPLIED.insert().values(event_id=uuid4(), consumer="x", n=1))
        uow.outbox.add(PingedV1(n=1))
    assert await outbox_rows(engine) == []
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(APPLIED))).scalar_one() == 0
    assert woken == []
    await engine.dispose()


async def test_commit_stores_change_and_event_together_and_wakes_the_relay(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    await create_schema(engine)
    woken: list[bool] = []
    ran_after: list[str] = []
    async with UnitOfWork(engine, producer="tasks", wake_relay=lambda: woken.append(True)) as uow:
        await uow.conn.execute(APPLIED.insert().values(event_id=uuid4(), consumer="x", n=1))
        envelope = uow.outbox.add(PingedV1(n=1))

        async def after() -> None:
            ran_after.append("after")

        uow.after_commit(after)
        assert ran_after == []
        await uow.commit()
    (payload,) = await outbox_rows(engine)
    assert envelope.id.hex in payload.decode().replace("-", "")
    assert envelope.producer == "tasks"
    assert woken == [True]
    assert ran_after == ["after"]
    await engine.dispose()


async def test_a_failed_savepoint_drops_only_its_own_writes_and_events(database_url: str) -> None:
    engine = create_engine(database_url)
    await create_schema(engine)
    async with UnitOfWork(engine, producer="tasks") as uow:
        uow.outbox.add(PingedV1(n=1))

        async def failing_step() -> None:
            async with uow.savepoint():
                uow.outbox.add(PingedV1(n=2))
                await uow.conn.execute(APPLIED.insert().values(event_id=uuid4(), consumer="x", n=2))
                raise RuntimeError("this one fails")

        with pytest.raises(RuntimeError):
            await failing_step()
        async with uow.savepoint():
            uow.outbox.add(PingedV1(n=3))
        await uow.commit()
    assert len(await outbox_rows(engine)) == 2
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(APPLIED))).scalar_one() == 0
    await engine.dispose()
