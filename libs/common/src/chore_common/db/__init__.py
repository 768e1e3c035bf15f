"""Database kit: engines from a URL, naming convention, outbox/inbox tables,
the base unit of work and Alembic wiring."""

from chore_common.db.engine import (
    ENGINE,
    create_engine,
    database_check,
    db_context,
    is_sqlite,
)
from chore_common.db.naming import NAMING_CONVENTION, new_metadata
from chore_common.db.tables import add_idempotency_table, add_inbox_table, add_outbox_table
from chore_common.db.uow import Inbox, Outbox, UnitOfWork

__all__ = [
    "ENGINE",
    "NAMING_CONVENTION",
    "Inbox",
    "Outbox",
    "UnitOfWork",
    "add_idempotency_table",
    "add_inbox_table",
    "add_outbox_table",
    "create_engine",
    "database_check",
    "db_context",
    "is_sqlite",
    "new_metadata",
]
