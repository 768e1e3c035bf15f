"""signing_keys: one key per activation instant

Replicas starting side by side on an empty key table each generate a first key, all of
which activate at the epoch: this index lets exactly one of them in, and the others use it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_signing_keys_activates_at'), ['activates_at'], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_keys_activates_at'))
