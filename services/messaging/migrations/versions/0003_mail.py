"""mail notifier: address book, mail queue, presence

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-06

New tables only: the address book fills from auth's contact events and the presence table
from sockets, so there is no existing data to move.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('mail_addresses',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('updated_at', TS, nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_mail_addresses'))
    )
    op.create_table('mail_queue',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('to_email', sa.String(length=320), nullable=False),
    sa.Column('to_name', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', TS, nullable=False),
    sa.Column('last_error', sa.String(length=2000), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('sent_at', TS, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_queue'))
    )
    with op.batch_alter_table('mail_queue', schema=None) as batch_op:
        batch_op.create_index('ix_mail_queue_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_mail_queue_user', ['user_id'], unique=False)

    op.create_table('mail_presence',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('last_seen_at', TS, nullable=True),
    sa.Column('last_digest_at', TS, nullable=True),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_mail_presence'))
    )


def downgrade() -> None:
    op.drop_table('mail_presence')
    with op.batch_alter_table('mail_queue', schema=None) as batch_op:
        batch_op.drop_index('ix_mail_queue_user')
        batch_op.drop_index('ix_mail_queue_due')
    op.drop_table('mail_queue')
    op.drop_table('mail_addresses')
