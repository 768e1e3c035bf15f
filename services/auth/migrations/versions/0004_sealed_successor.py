"""refresh_tokens.sealed_successor: a retry inside the reuse grace gets the same token

A rotated token keeps the token it was rotated to, sealed under itself, so a replay inside
the grace returns that token again instead of a second live one (docs/auth.md).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_successor', sa.LargeBinary(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_column('sealed_successor')
