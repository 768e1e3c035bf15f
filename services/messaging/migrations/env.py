"""Alembic environment of the messaging service: its own tables only."""

from alembic import context

from chore_common.db.migrations import run_env
from chore_messaging.adapters.tables import metadata

run_env(context, metadata)
