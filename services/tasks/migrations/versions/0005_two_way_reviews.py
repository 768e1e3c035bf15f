"""two-way, double-blind reviews: one per (task, author), reveal times, user_ratings

Existing reviews (all owner -> assignee) were published at once under the old model, so
they stay visible: `reveal_at` and `visible_at` are their `created_at`. `user_ratings` is
filled from them, so each reviewed user's summary matches their visible reviews.

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
STARS = [f'stars_{n}' for n in range(1, 6)]


def upgrade() -> None:
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reveal_at', TS, nullable=True))
        batch_op.add_column(sa.Column('visible_at', TS, nullable=True))
    op.execute('UPDATE reviews SET reveal_at = created_at, visible_at = created_at')
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.alter_column('reveal_at', existing_type=TS, nullable=False)
        batch_op.drop_constraint('uq_reviews_task_id', type_='unique')
        batch_op.create_unique_constraint('uq_reviews_task_author', ['task_id', 'author_id'])
        batch_op.create_index(
            'ix_reviews_subject_visible', ['subject_id', 'visible_at', 'id'], unique=False
        )

    op.create_table('user_ratings',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    *(sa.Column(name, sa.Integer(), nullable=False) for name in STARS),
    sa.Column('updated_at', TS, nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_ratings'))
    )
    stars = ', '.join(
        f'SUM(CASE WHEN rating = {n} THEN 1 ELSE 0 END)' for n in range(1, 6)
    )
    op.execute(
        f"INSERT INTO user_ratings (user_id, count, total, {', '.join(STARS)}, updated_at) "
        f'SELECT subject_id, COUNT(*), SUM(rating), {stars}, MAX(visible_at) '
        'FROM reviews WHERE visible_at IS NOT NULL GROUP BY subject_id'
    )


def downgrade() -> None:
    op.drop_table('user_ratings')
    # One review per task again: the owner's (the only kind the old model knew).
    op.execute(
        'DELETE FROM reviews WHERE author_id <> '
        '(SELECT owner_id FROM tasks WHERE tasks.id = reviews.task_id)'
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_reviews_subject_visible')
        batch_op.drop_constraint('uq_reviews_task_author', type_='unique')
        batch_op.create_unique_constraint('uq_reviews_task_id', ['task_id'])
        batch_op.drop_column('visible_at')
        batch_op.drop_column('reveal_at')
