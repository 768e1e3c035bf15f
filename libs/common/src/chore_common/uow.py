"""The base async unit of work: one connection, the outbox, the inbox, commit or roll back.
Services' adapters subclass it (adding repositories and `record`) to fill in the pure
`chore_common.ports.UnitOfWork` protocol their use cases see.

Services subclass it and add repositories in `__aenter__`:

    class TasksUnitOfWork(UnitOfWork):
        async def __aenter__(self) -> Self:
            await super().__aenter__()
            self.tasks = TaskRepository(self.conn)
            return self

Repositories speak SQLAlchemy Core on the unit of work's `AsyncConnection`. An ORM
`AsyncSession` would add its identity map and state machine to every statement and commit
for objects no one maps: a create through it cost the tasks service 15-20 % more CPU
(POST /tasks at 32 clients on PostgreSQL, measured side by side).

Nothing is kept unless `commit()` is called. `commit()` writes the pending outbox rows in
the same transaction as the change, then wakes the relay so the events leave at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chore_common.inbox import Inbox
from chore_common.outbox.record import Outbox, RelayHandoff

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]


class UnitOfWork:
    """`async with uow:` ... `await uow.commit()`; leaving without commit rolls back."""

    conn: AsyncConnection
    outbox: Outbox
    inbox: Inbox

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        producer: str = "",
        wake_relay: Callable[[], None] | None = None,
        relay: RelayHandoff | None = None,
        consumer: str = "",
    ) -> None:
        self._engine = engine
        self.producer = producer
        self.consumer = consumer  # the durable consumer name the inbox records under
        self._wake_relay = wake_relay
        self._relay = relay
        self._after_commit: list[AfterCommit] = []

    async def __aenter__(self) -> Self:
        conn = self._engine.connect()  # not connected yet
        try:
            await conn.start()
        except BaseException:
            # Cancelled mid-checkout: whatever was checked out goes back to the pool.
            if conn.sync_connection is not None:
                await asyncio.shield(conn.close())
            raise
        self.conn = conn
        self.outbox = Outbox(self.conn, self.producer)
        self.inbox = Inbox(self.conn, self.consumer)
        self._after_commit = []
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Shielded: a task cancelled while it leaves (a socket closed mid-query, a shutdown)
        # still returns its connection, instead of the pool losing it until garbage
        # collection. Closing rolls back whatever was not committed.
        await asyncio.shield(self.conn.close())

    def after_commit(self, callback: AfterCommit) -> None:
        """Run `callback` once the transaction has committed (never if it rolls back)."""
        self._after_commit.append(callback)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: on error its writes, events and callbacks are dropped alone.

        Lets a consumer apply several events in one transaction while a failing one still
        fails by itself.
        """
        marks = (len(self.outbox.pending), len(self._after_commit))
        nested = await self.conn.begin_nested()
        try:
            yield
            await self.outbox.flush()
        except BaseException:
            await nested.rollback()
            del self.outbox.pending[marks[0] :]
            del self._after_commit[marks[1] :]
            raise
        await nested.commit()

    async def commit(self) -> None:
        await self.outbox.flush()
        await self.conn.commit()
        committed, self.outbox.flushed = self.outbox.flushed, []
        if committed:
            if self._relay is not None:
                # The rows themselves: the relay publishes them without reading them back.
                self._relay.handoff(committed)
            elif self._wake_relay is not None:
                self._wake_relay()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            try:
                await callback()
            except Exception:  # the change is committed; a failed side effect must not undo it
                log.exception("uow.after_commit_failed")

    async def rollback(self) -> None:
        self.outbox.pending.clear()
        self.outbox.flushed.clear()
        self._after_commit = []
        await self.conn.rollback()
