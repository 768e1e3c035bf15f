"""Alembic environment of the tasks service: its own tables only."""

# First: importing chore_common.db before chore_common.bus trips a circular import there.
import chore_common.bus  # noqa: F401
from alembic import context
from chore_common.db.migrations import run_env
from chore_tasks.adapters.tables import metadata

run_env(context, metadata)
