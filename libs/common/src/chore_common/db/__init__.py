"""Database kit: engines from a URL, the naming convention, column types and Alembic
wiring. The outbox, inbox, idempotency keys and the base unit of work have their own
homes (`chore_common.outbox`, `.inbox`, `.idempotency`, `.uow`)."""

from chore_common.db.engine import (
    ENGINE,
    create_engine,
    database_check,
    db_context,
    is_sqlite,
)
from chore_common.db.naming import NAMING_CONVENTION, new_metadata

__all__ = [
    "ENGINE",
    "NAMING_CONVENTION",
    "create_engine",
    "database_check",
    "db_context",
    "is_sqlite",
    "new_metadata",
]
