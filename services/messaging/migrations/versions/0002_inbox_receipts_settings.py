"""inbox by last activity with previews, task status on conversations, notification settings

Existing conversations get their last activity and preview from their last message (or
their opening when they have none); the old created_at indexes give way to activity ones.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_activity_at', TS, nullable=True))
        batch_op.add_column(sa.Column('last_preview', sa.String(length=120), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('last_sender_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('task_status', sa.String(length=16), nullable=False, server_default='open'))
    # Move the data: the last message of each conversation becomes its inbox line.
    op.execute("""
        UPDATE conversations SET
          last_activity_at = COALESCE((SELECT m.sent_at FROM messages m WHERE m.conversation_id = conversations.id ORDER BY m.seq DESC LIMIT 1), created_at),
          last_preview = COALESCE((SELECT substr(m.body, 1, 120) FROM messages m WHERE m.conversation_id = conversations.id ORDER BY m.seq DESC LIMIT 1), ''),
          last_sender_id = (SELECT m.sender_id FROM messages m WHERE m.conversation_id = conversations.id ORDER BY m.seq DESC LIMIT 1),
          task_status = CASE WHEN is_open THEN 'open' ELSE 'closed' END
    """)
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.alter_column('last_activity_at', existing_type=TS, nullable=False)
        batch_op.drop_index('ix_conversations_owner')
        batch_op.drop_index('ix_conversations_tasker')
        batch_op.create_index('ix_conversations_owner_activity', ['owner_id', 'last_activity_at', 'id'], unique=False)
        batch_op.create_index('ix_conversations_tasker_activity', ['tasker_id', 'last_activity_at', 'id'], unique=False)

    op.create_table('notification_settings',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('quiet_start', sa.String(length=5), nullable=True),
    sa.Column('quiet_end', sa.String(length=5), nullable=True),
    sa.Column('updated_at', TS, nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_notification_settings'))
    )


def downgrade() -> None:
    op.drop_table('notification_settings')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_tasker_activity')
        batch_op.drop_index('ix_conversations_owner_activity')
        batch_op.create_index('ix_conversations_owner', ['owner_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_conversations_tasker', ['tasker_id', 'created_at', 'id'], unique=False)
        batch_op.drop_column('task_status')
        batch_op.drop_column('last_sender_id')
        batch_op.drop_column('last_preview')
        batch_op.drop_column('last_activity_at')
