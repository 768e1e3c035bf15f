"""The inbox: ids of events a consumer has applied, in the consumer's own database.

Written in the same transaction as the handler's own writes, so "applied" and "recorded"
commit together; a redelivery then finds the id and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from chore_common.db.tables import INBOX


class Inbox:
    def __init__(self, session: AsyncSession, consumer: str) -> None:
        self.session = session
        self.consumer = consumer

    async def seen(self, event_id: UUID) -> bool:
        found = await self.session.execute(
            select(INBOX.c.event_id).where(
                INBOX.c.consumer == self.consumer, INBOX.c.event_id == event_id
            )
        )
        return found.first() is not None

    async def seen_among(self, event_ids: Sequence[UUID]) -> set[UUID]:
        """The ids of `event_ids` already applied (one query for a whole batch)."""
        if not event_ids:
            return set()
        found = await self.session.execute(
            select(INBOX.c.event_id).where(
                INBOX.c.consumer == self.consumer, INBOX.c.event_id.in_(list(event_ids))
            )
        )
        return set(found.scalars())

    async def add_all(self, event_ids: Sequence[UUID]) -> None:
        if not event_ids:
            return
        now = datetime.now(UTC)
        await self.session.execute(
            insert(INBOX),
            [{"consumer": self.consumer, "event_id": e, "handled_at": now} for e in event_ids],
        )

    async def add(self, event_id: UUID) -> None:
        await self.session.execute(
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
