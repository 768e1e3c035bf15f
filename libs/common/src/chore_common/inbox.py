"""The inbox: ids of events a consumer has applied, written in the handler's own
transaction, so "applied" and "recorded" commit together and a redelivery changes nothing.

    add_inbox_table(metadata)     # in a consuming service's tables
    uow.inbox.seen(event_id)      # `Inbox` travels with the unit of work
    await prune_inbox(engine, older_than=timedelta(days=14))

The kit's own code queries its copy of the table, `INBOX`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chore_common.db.naming import new_metadata


def add_inbox_table(metadata: MetaData) -> Table:
    """Event ids a consumer has applied, written in the handler's own transaction."""
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(128), primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("handled_at", DateTime(timezone=True), nullable=False, index=True),
    )


INBOX = add_inbox_table(new_metadata())


class Inbox:
    """One consumer's applied event ids, on the unit of work's connection."""

    def __init__(self, conn: AsyncConnection, consumer: str) -> None:
        self.conn = conn
        self.consumer = consumer

    async def seen(self, event_id: UUID) -> bool:
        found = await self.conn.execute(
            select(INBOX.c.event_id).where(
                INBOX.c.consumer == self.consumer, INBOX.c.event_id == event_id
            )
        )
        return found.first() is not None

    async def seen_among(self, event_ids: Sequence[UUID]) -> set[UUID]:
        """The ids of `event_ids` already applied (one query for a whole batch)."""
        if not event_ids:
            return set()
        found = await self.conn.execute(
            select(INBOX.c.event_id).where(
                INBOX.c.consumer == self.consumer, INBOX.c.event_id.in_(list(event_ids))
            )
        )
        return set(found.scalars())

    async def add_all(self, event_ids: Sequence[UUID]) -> None:
        if not event_ids:
            return
        now = datetime.now(UTC)
        await self.conn.execute(
            insert(INBOX),
            [{"consumer": self.consumer, "event_id": e, "handled_at": now} for e in event_ids],
        )

    async def forget_before(self, cutoff: datetime) -> int:
        """Drop this consumer's ids handled before `cutoff` (keep longer than the stream)."""
        result = await self.conn.execute(
            delete(INBOX).where(INBOX.c.consumer == self.consumer, INBOX.c.handled_at < cutoff)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def add(self, event_id: UUID) -> None:
        await self.conn.execute(
            insert(INBOX).values(
                consumer=self.consumer, event_id=event_id, handled_at=datetime.now(UTC)
            )
        )


async def prune_inbox(engine: AsyncEngine, older_than: timedelta) -> int:
    """Forget ids handled before `older_than` ago (keep it longer than the stream's max age)."""
    cutoff = datetime.now(UTC) - older_than
    async with engine.begin() as conn:
        result = await conn.execute(delete(INBOX).where(INBOX.c.handled_at < cutoff))
    return int(result.rowcount)
