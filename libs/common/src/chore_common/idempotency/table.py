"""The `idempotency_keys` table, added to the MetaData of a service that accepts
`Idempotency-Key` by one call (`add_idempotency_table(metadata)`); the store queries the
kit's copy, `IDEMPOTENCY`."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, LargeBinary, MetaData, String, Table

from chore_common.db.naming import new_metadata


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


IDEMPOTENCY = add_idempotency_table(new_metadata())
