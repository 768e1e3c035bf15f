"""Alembic environment of the auth service: its own tables only."""

from alembic import context

from chore_auth.adapters.tables import metadata
from chore_common.db.migrations import run_env

run_env(context, metadata)
