"""Migration 0002 moves existing conversations into the inbox: each gets its last message's
time, preview and sender (or its opening time when it has none)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import BigInteger, Boolean, String, Uuid, column, select, table

from chore_common.db import create_engine
from chore_common.db.migrations import alembic_config
from chore_common.db.types import UtcDateTime
from chore_messaging.adapters.tables import CONVERSATIONS, MESSAGES
from chore_messaging.app import MIGRATIONS

# The conversations table as migration 0001 left it.
OLD_CONVERSATIONS = table(
    "conversations",
    *(column(name, Uuid) for name in ("id", "task_id", "owner_id", "tasker_id")),
    column("task_title", String),
    column("is_open", Boolean),
    *(column(name, BigInteger) for name in ("last_seq", "owner_read_seq", "tasker_read_seq")),
    column("created_at", UtcDateTime),
)


async def test_migration_0002_gives_existing_conversations_their_inbox_line(
    database_url: str,
) -> None:
    config = alembic_config(database_url, MIGRATIONS)
    await asyncio.to_thread(command.upgrade, config, "0001")
    opened = datetime(2026, 11, 1, tzinfo=UTC)
    chatty, quiet, owner, tasker = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            for conv, is_open in ((chatty, True), (quiet, False)):
                await conn.execute(
                    OLD_CONVERSATIONS.insert().values(
                        id=conv, task_id=uuid.uuid4(), owner_id=owner, tasker_id=tasker,
                        task_title="Old", is_open=is_open, last_seq=2 if conv == chatty else 0,
                        owner_read_seq=0, tasker_read_seq=0, created_at=opened,
                    )
                )  # fmt: skip
            for seq, sender, body in ((1, owner, "first"), (2, tasker, "second " + "y" * 200)):
                await conn.execute(
                    MESSAGES.insert().values(
                        id=uuid.uuid4(), conversation_id=chatty, seq=seq, sender_id=sender,
                        body=body, client_msg_id=f"k{seq}", sent_at=opened + timedelta(hours=seq),
                    )
                )  # fmt: skip
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as conn:
            rows = {r.id: r for r in await conn.execute(select(CONVERSATIONS))}
    finally:
        await engine.dispose()
    moved, still = rows[chatty], rows[quiet]
    assert moved.last_activity_at == opened + timedelta(hours=2)
    assert moved.last_preview == ("second " + "y" * 200)[:120]
    assert moved.last_sender_id == tasker
    assert moved.task_status == "open"
    assert still.last_activity_at == opened
    assert still.last_preview == ""
    assert still.last_sender_id is None
    assert still.task_status == "closed"
