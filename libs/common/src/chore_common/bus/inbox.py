"""Inbox housekeeping. The inbox itself (`chore_common.db.uow.Inbox`) travels with the
unit of work, since it is written in the handler's own transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.db.tables import INBOX
from chore_common.db.uow import Inbox

__all__ = ["Inbox", "prune_inbox"]


async def prune_inbox(engine: AsyncEngine, older_than: timedelta) -> int:
    """Forget ids handled before `older_than` ago (keep it longer than the stream's max age)."""
    cutoff = datetime.now(UTC) - older_than
    async with engine.begin() as conn:
        result = await conn.execute(delete(INBOX).where(INBOX.c.handled_at < cutoff))
    return int(result.rowcount)
