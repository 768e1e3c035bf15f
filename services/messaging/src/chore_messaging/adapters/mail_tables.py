"""The mail notifier's tables, on messaging's metadata: the address book, the mail queue
and when each user was last seen (for the digest). Migration 0003 creates them."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text, Uuid

from chore_messaging.adapters.tables import TS, metadata

EMAIL_MAX = 320  # RFC 5321: 64 + "@" + 255
ERROR_MAX = 2000
NAME_MAX = 200
SUBJECT_MAX = 300  # a title (200) in a sentence; longer is cut, never refused

MAIL_ADDRESSES = Table(
    "mail_addresses",
    metadata,
    Column("user_id", Uuid, primary_key=True),
    Column("email", String(EMAIL_MAX), nullable=False),
    Column("name", String(NAME_MAX), nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("updated_at", TS, nullable=False),
)

MAIL_QUEUE = Table(
    "mail_queue",
    metadata,
    Column("id", Uuid, primary_key=True),  # domain.mail.mail_id(event, recipient)
    Column("event_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("to_email", String(EMAIL_MAX), nullable=False),
    Column("to_name", String(NAME_MAX), nullable=False),
    Column("subject", String(SUBJECT_MAX), nullable=False),
    # Emptied once sent: a reset or verification link must not outlive its delivery.
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", TS, nullable=False),
    Column("last_error", String(ERROR_MAX), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("sent_at", TS, nullable=True),
    Index("ix_mail_queue_due", "state", "next_attempt_at"),
    Index("ix_mail_queue_user", "user_id"),
)

MAIL_PRESENCE = Table(
    "mail_presence",
    metadata,
    Column("user_id", Uuid, primary_key=True),
    Column("last_seen_at", TS, nullable=True),
    Column("last_digest_at", TS, nullable=True),
)
