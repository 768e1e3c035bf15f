"""The messaging database: conversations, messages, notifications, people, plus outbox and
inbox.

Datetimes go through `UtcDateTime`: stored in UTC, read back timezone-aware on SQLite
(which keeps no zone) as on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from chore_common.db import new_metadata
from chore_common.db.types import UtcDateTime
from chore_common.inbox import add_inbox_table
from chore_common.outbox.table import add_outbox_table
from chore_common.reports.storage import add_reports_table

TS = UtcDateTime

metadata = new_metadata()
OUTBOX = add_outbox_table(metadata)
INBOX = add_inbox_table(metadata)

CONVERSATIONS = Table(
    "conversations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("task_id", Uuid, nullable=False),
    Column("owner_id", Uuid, nullable=False),
    Column("tasker_id", Uuid, nullable=False),
    Column("task_title", String(200), nullable=False),
    Column("is_open", Boolean, nullable=False),
    # The last seq handed out; the storing transaction increments it (row lock on PG).
    Column("last_seq", BigInteger, nullable=False),
    Column("owner_read_seq", BigInteger, nullable=False),
    Column("tasker_read_seq", BigInteger, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("closed_at", TS, nullable=True),
    # The inbox (migration 0002): ordered by last activity, with the last message's preview.
    Column("last_activity_at", TS, nullable=False),
    Column("last_preview", String(120), nullable=False, server_default=""),
    Column("last_sender_id", Uuid, nullable=True),
    Column("task_status", String(16), nullable=False, server_default="open"),
    UniqueConstraint("task_id", "tasker_id", name="uq_conversations_task_tasker"),
    Index("ix_conversations_owner_activity", "owner_id", "last_activity_at", "id"),
    Index("ix_conversations_tasker_activity", "tasker_id", "last_activity_at", "id"),
)

MESSAGES = Table(
    "messages",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "conversation_id",
        Uuid,
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("seq", BigInteger, nullable=False),
    Column("sender_id", Uuid, nullable=False),
    Column("body", Text, nullable=False),
    Column("client_msg_id", String(64), nullable=False),
    Column("sent_at", TS, nullable=False),
    # (conversation_id, seq) is also the index every replay and history read walks.
    UniqueConstraint("conversation_id", "seq", name="uq_messages_seq"),
    UniqueConstraint(
        "conversation_id", "sender_id", "client_msg_id", name="uq_messages_client_msg_id"
    ),
)

NOTIFICATIONS = Table(
    "notifications",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("task_id", Uuid, nullable=False),
    Column("title", String(200), nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("read_at", TS, nullable=True),
    Index("ix_notifications_user", "user_id", "created_at", "id"),
)

# One row per user who saved notification settings (domain/preferences.py); none: defaults.
NOTIFICATION_SETTINGS = Table(
    "notification_settings",
    metadata,
    Column("user_id", Uuid, primary_key=True),
    # {"offer": ["in_app", "email"], ...}: the channels on, per setting kind
    Column("channels", JSON, nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("quiet_start", String(5), nullable=True),  # "HH:MM", local to time_zone
    Column("quiet_end", String(5), nullable=True),
    Column("updated_at", TS, nullable=False),
)

# Users' reports of a message (domain/reports.py), with a copy of its body.
REPORTS = add_reports_table(
    metadata,
    "message_reports",
    Column("conversation_id", Uuid, nullable=False),
    Column("message_id", Uuid, nullable=False),
    reported="message_id",
)


# The people read model (migration 0005, domain/people.py): names from auth's events, ratings
# and completed tasks from tasks' events. No row: messaging has not heard of the user.
PEOPLE = Table(
    "people",
    metadata,
    Column("user_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=True),
    Column("deleted", Boolean, nullable=False),
    Column("rating_count", Integer, nullable=False),
    Column("rating_total", Integer, nullable=False),
    Column("completed_count", Integer, nullable=False),
    Column("updated_at", TS, nullable=False),
)
