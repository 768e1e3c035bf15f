"""reports: users' reports of messages, queued for the admins

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

A new table; no existing row moves.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('message_reports',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('conversation_id', sa.Uuid(), nullable=False),
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('reporter_id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('closed_by', sa.Uuid(), nullable=True),
    sa.Column('closed_at', TS, nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_reports'))
    )
    op.create_index('ix_message_reports_status_created', 'message_reports', ['status', 'created_at', 'id'], unique=False)
    op.create_index('uq_message_reports_open_per_reporter', 'message_reports', ['reporter_id', 'message_id'], unique=True, postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))


def downgrade() -> None:
    op.drop_index('uq_message_reports_open_per_reporter', table_name='message_reports')
    op.drop_index('ix_message_reports_status_created', table_name='message_reports')
    op.drop_table('message_reports')
