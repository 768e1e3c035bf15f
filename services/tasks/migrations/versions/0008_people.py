"""people: names and account statuses from auth's events

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

A new table only: it fills from auth's events (the `tasks-people` consumer starts at the
beginning of the AUTH stream), so there is no existing data to move.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_people")),
    )
    op.create_index("ix_people_status", "people", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_people_status", table_name="people")
    op.drop_table("people")
