"""Alembic wiring: a service's own migrations/ applied with upgrade_head, from async code."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from chore_common.db import create_engine
from chore_common.db.migrations import upgrade_head

pytestmark = pytest.mark.db

ENV_PY = """
from alembic import context

from chore_common.db import new_metadata
from chore_common.db.migrations import run_env
from chore_common.inbox import add_inbox_table
from chore_common.outbox.table import add_outbox_table

metadata = new_metadata()
add_outbox_table(metadata)
add_inbox_table(metadata)
run_env(context, metadata)
"""

FIRST_REVISION = """
from alembic import op

from chore_common.db import new_metadata
from chore_common.inbox import add_inbox_table
from chore_common.outbox.table import add_outbox_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata = new_metadata()
    add_outbox_table(metadata)
    add_inbox_table(metadata)
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")
"""


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """A service's migrations/ directory, as each service keeps its own."""
    root = tmp_path / "migrations"
    (root / "versions").mkdir(parents=True)
    (root / "env.py").write_text(ENV_PY)
    (root / "versions" / "0001_bus_tables.py").write_text(FIRST_REVISION)
    return root


async def test_upgrade_head_from_async_code_creates_the_outbox_and_inbox_once(
    database_url: str, migrations: Path
) -> None:
    upgrade_head(database_url, migrations)
    upgrade_head(database_url, migrations)  # already at head: nothing to do, no error
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        indexes = await conn.run_sync(
            lambda sync: {ix["name"] for ix in inspect(sync).get_indexes("outbox")}
        )
    await engine.dispose()
    assert {"outbox", "inbox", "alembic_version"} <= tables
    assert version == "0001"
    assert "ix_outbox_unsent" in indexes


def test_upgrade_head_works_from_plain_synchronous_code(
    database_url: str, migrations: Path
) -> None:
    upgrade_head(database_url, migrations)
