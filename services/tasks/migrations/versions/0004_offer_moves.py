"""offer moves: offers get a version and updated_at; task_edits keeps the edit history

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-06

Existing offers start at version 1, updated when they were made. The statuses an offer may
now have (declined, withdrawn, released) need no schema change: `status` is a string and the
one-open-offer index counts `open` rows only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('updated_at', TS, nullable=True))
    op.execute("UPDATE offers SET updated_at = created_at")
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.alter_column('updated_at', existing_type=TS, nullable=False)
        batch_op.alter_column('version', existing_type=sa.Integer(), server_default=None)

    op.create_table('task_edits',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('editor_id', sa.Uuid(), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_edits_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_edits'))
    )
    with op.batch_alter_table('task_edits', schema=None) as batch_op:
        batch_op.create_index('ix_task_edits_task_created', ['task_id', 'created_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('task_edits', schema=None) as batch_op:
        batch_op.drop_index('ix_task_edits_task_created')
    op.drop_table('task_edits')
    # Statuses the old code does not know fall back to the nearest it does.
    op.execute("UPDATE offers SET status = 'open' WHERE status = 'declined'")
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
        batch_op.drop_column('version')
