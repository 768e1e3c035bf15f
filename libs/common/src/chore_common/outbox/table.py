"""The outbox table, added to a service's own MetaData by one call:

    metadata = new_metadata()
    add_outbox_table(metadata)

The kit's own code (record, relay) queries its copy, `OUTBOX` (same name and types), so it
does not need the service's MetaData object.
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


OUTBOX = add_outbox_table(new_metadata())
