"""The outbox and inbox tables, added to a service's own MetaData by one call each.

    metadata = new_metadata()
    add_outbox_table(metadata)
    add_inbox_table(metadata)
    add_idempotency_table(metadata)   # services that accept Idempotency-Key

The bus code queries its own copies (`OUTBOX`, `INBOX`, same names and types) so it does
not need the service's MetaData object.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    text,
)

from chore_common.db.naming import new_metadata

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


def add_outbox_table(metadata: MetaData) -> Table:
    """Events written in the same transaction as the change they describe.

    `id` orders rows (the relay publishes oldest first). `sent_at` is set only after the
    PubAck; the partial index keeps "unsent, oldest first" cheap however many sent rows
    wait for pruning.
    """
    return Table(
        "outbox",
        metadata,
        Column("id", _ROW_ID, primary_key=True, autoincrement=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("subject", String(255), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSON, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Index(
            "ix_outbox_unsent",
            "id",
            postgresql_where=text("sent_at IS NULL"),
            sqlite_where=text("sent_at IS NULL"),
        ),
        Index("ix_outbox_sent_at", "sent_at"),
    )


def add_inbox_table(metadata: MetaData) -> Table:
    """Event ids a consumer has applied, written in the handler's own transaction."""
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(128), primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("handled_at", DateTime(timezone=True), nullable=False, index=True),
    )


def add_idempotency_table(metadata: MetaData) -> Table:
    """Idempotency keys of creating POSTs and the first 2xx response given for each.

    `scope` is who asked and where (principal, method, path), so the same key from two
    users never collides. A row with no `status` is a claim: its request is still running.
    """
    return Table(
        "idempotency_keys",
        metadata,
        Column("scope", String(512), primary_key=True),
        Column("key", String(255), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("status", Integer, nullable=True),
        Column("headers", JSON, nullable=True),
        Column("body", LargeBinary, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    )


_OWN = new_metadata()
OUTBOX = add_outbox_table(_OWN)
INBOX = add_inbox_table(_OWN)
IDEMPOTENCY = add_idempotency_table(_OWN)
