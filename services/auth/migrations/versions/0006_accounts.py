"""accounts: profiles, email verification, account status, one-time tokens, audit log

users gains the profile (bio, skills, avatar_url, city), email_verified_at, the moderation
status (active, suspended, banned) with its reason, and deleted_at. Accounts that exist
already were made before verification existed: they count as verified from their creation
(a mailbox nobody was asked to prove), so nobody who could post yesterday is locked out.
account_tokens keeps the hashes of password-reset and email-verification tokens, never the
tokens; audit_log the security events, kept a year (docs/auth.md "Audit log").

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bio', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('skills', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('avatar_url', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('city', sa.String(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('email_verified_at', TS, nullable=True))
        batch_op.add_column(
            sa.Column('status', sa.String(length=16), nullable=False, server_default='active')
        )
        batch_op.add_column(sa.Column('status_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('deleted_at', TS, nullable=True))
    users = sa.table('users', sa.column('created_at'), sa.column('email_verified_at'))
    op.execute(sa.update(users).values(email_verified_at=users.c.created_at))

    op.create_table(
        'account_tokens',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('expires_at', TS, nullable=False),
        sa.Column('used_at', TS, nullable=True),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], name=op.f('fk_account_tokens_user_id_users'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_account_tokens_token_hash')),
    )
    op.create_index('ix_account_tokens_user_id', 'account_tokens', ['user_id'])

    op.create_table(
        'audit_log',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('at', TS, nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('actor_id', sa.Uuid(), nullable=True),
        sa.Column('target_id', sa.Uuid(), nullable=True),
        sa.Column('client_ip', sa.String(length=64), nullable=False),
        sa.Column('detail', sa.String(length=500), nullable=False, server_default=''),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    )
    op.create_index('ix_audit_log_at_id', 'audit_log', ['at', 'id'])
    op.create_index('ix_audit_log_target_id_at', 'audit_log', ['target_id', 'at'])
    op.create_index('ix_audit_log_actor_id_at', 'audit_log', ['actor_id', 'at'])


def downgrade() -> None:
    op.drop_table('audit_log')
    op.drop_table('account_tokens')
    with op.batch_alter_table('users', schema=None) as batch_op:
        for column in (
            'deleted_at', 'status_reason', 'status', 'email_verified_at', 'city', 'avatar_url',
            'skills', 'bio',
        ):
            batch_op.drop_column(column)
