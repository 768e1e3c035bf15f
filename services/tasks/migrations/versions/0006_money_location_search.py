"""money_location_search: currencies, located tasks, full-text search

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-06

Existing amounts get the platform's default currency (TASKS_DEFAULT_CURRENCY, EUR when
unset) and offers their task's; free-text locations keep their text as `address`, with no
point. Full text per database: PostgreSQL a generated `search` tsvector with a GIN index;
SQLite an FTS5 table `tasks_fts` that triggers keep in step with `tasks`.

Plain ALTERs only, no batch mode: batch mode rebuilds a SQLite table, which would drop the
FTS triggers and, by dropping `tasks`, cascade to the offers. A later migration that
rebuilds `tasks` on SQLite must create the triggers again (`SQLITE_TRIGGERS`).
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Weighted: a word in the title ranks above the same word in the description.
PG_SEARCH = (
    "setweight(to_tsvector('simple'::regconfig, title), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, description), 'B')"
)
# remove_diacritics 0: PostgreSQL's 'simple' configuration keeps accents too.
SQLITE_FTS = (
    "CREATE VIRTUAL TABLE tasks_fts USING fts5("
    "task_id UNINDEXED, title, description, tokenize = 'unicode61 remove_diacritics 0')"
)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER tasks_fts_insert AFTER INSERT ON tasks BEGIN "
    "INSERT INTO tasks_fts (task_id, title, description) "
    "VALUES (new.id, new.title, new.description); END",
    "CREATE TRIGGER tasks_fts_update AFTER UPDATE OF title, description ON tasks BEGIN "
    "UPDATE tasks_fts SET title = new.title, description = new.description "
    "WHERE task_id = old.id; END",
    "CREATE TRIGGER tasks_fts_delete AFTER DELETE ON tasks BEGIN "
    "DELETE FROM tasks_fts WHERE task_id = old.id; END",
)


def default_currency() -> str:
    code = os.environ.get("TASKS_DEFAULT_CURRENCY", "EUR")
    if len(code) != 3 or not code.isascii() or not code.isupper():
        raise ValueError(f"TASKS_DEFAULT_CURRENCY {code!r} is not an ISO 4217 code")
    return code


def upgrade() -> None:
    currency = default_currency()
    op.add_column('tasks', sa.Column('currency', sa.String(3), nullable=False, server_default=currency))
    op.add_column('offers', sa.Column('currency', sa.String(3), nullable=False, server_default=currency))
    op.execute(
        "UPDATE offers SET currency = (SELECT tasks.currency FROM tasks WHERE tasks.id = offers.task_id)"
    )
    op.alter_column('tasks', 'location', new_column_name='address', existing_type=sa.String(500))
    op.add_column('tasks', sa.Column('lat', sa.Float(), nullable=True))
    op.add_column('tasks', sa.Column('lon', sa.Float(), nullable=True))
    op.create_index('ix_tasks_budget', 'tasks', ['budget_cents', 'id'])
    op.create_index('ix_tasks_due', 'tasks', ['due_at', 'id'])
    op.create_index('ix_tasks_lat_lon', 'tasks', ['lat', 'lon'])
    if op.get_bind().dialect.name == 'postgresql':
        # The defaults only filled existing rows; new rows name their currency.
        op.alter_column('tasks', 'currency', server_default=None)
        op.alter_column('offers', 'currency', server_default=None)
        op.execute(f"ALTER TABLE tasks ADD COLUMN search tsvector GENERATED ALWAYS AS ({PG_SEARCH}) STORED")
        op.execute("CREATE INDEX ix_tasks_search ON tasks USING GIN (search)")
    else:
        op.execute(SQLITE_FTS)
        op.execute("INSERT INTO tasks_fts (task_id, title, description) SELECT id, title, description FROM tasks")
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP INDEX ix_tasks_search")
        op.execute("ALTER TABLE tasks DROP COLUMN search")
    else:
        for name in ('insert', 'update', 'delete'):
            op.execute(f"DROP TRIGGER tasks_fts_{name}")
        op.execute("DROP TABLE tasks_fts")
    op.drop_index('ix_tasks_lat_lon', 'tasks')
    op.drop_index('ix_tasks_due', 'tasks')
    op.drop_index('ix_tasks_budget', 'tasks')
    op.drop_column('tasks', 'lon')
    op.drop_column('tasks', 'lat')
    op.alter_column('tasks', 'address', new_column_name='location', existing_type=sa.String(500))
    op.drop_column('offers', 'currency')
    op.drop_column('tasks', 'currency')
