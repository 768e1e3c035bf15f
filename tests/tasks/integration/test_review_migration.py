"""Migration 0005 keeps the reviews written under the old rules (owner -> assignee, shown at
once) visible, and fills the rating read model from them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from alembic import command
from sqlalchemy import Integer, String, Uuid, column, insert, select, table
from sqlalchemy.sql.expression import ColumnClause, TableClause

from chore_common.db.engine import create_engine
from chore_common.db.migrations import alembic_config
from chore_common.db.types import UtcDateTime
from chore_tasks import usecases
from chore_tasks.adapters.tables import REVIEWS
from chore_tasks.adapters.uow import TasksUnitOfWork
from chore_tasks.app import MIGRATIONS
from chore_tasks.domain import reviews
from chore_tasks.domain.model import Actor, Role
from chore_tasks.usecases.commands import ListUserReviews

pytestmark = pytest.mark.db

# The two tables as revision 0002 left them (only the columns written here).
TYPES = {"rating": Integer(), "budget_cents": Integer(), "version": Integer()}


def old_table(name: str, *columns: str) -> TableClause:
    def typed(col: str) -> ColumnClause[Any]:
        if col == "id" or col.endswith("_id"):
            return column(col, Uuid())
        if col.endswith("_at"):
            return column(col, UtcDateTime())
        return column(col, TYPES.get(col, String()))

    return table(name, *(typed(c) for c in columns))


OLD_TASKS = old_table(
    "tasks", "id", "owner_id", "title", "description", "category", "budget_cents", "status",
    "assignee_id", "offer_id", "version", "created_at", "updated_at",
)  # fmt: skip
OLD_REVIEWS = old_table(
    "reviews", "id", "task_id", "author_id", "subject_id", "rating", "comment", "created_at"
)


async def test_old_reviews_stay_visible_and_count_in_the_rating(database_url: str) -> None:
    config = alembic_config(database_url, MIGRATIONS)
    await asyncio.to_thread(command.upgrade, config, "0002")
    worker, now = uuid4(), datetime.now(UTC) - timedelta(days=30)
    ratings = [5, 3, 5]
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            for n, rating in enumerate(ratings):
                task_id, owner = uuid4(), uuid4()
                at = now + timedelta(minutes=n)
                await conn.execute(
                    insert(OLD_TASKS).values(
                        id=task_id, owner_id=owner, title="Old chore", description="",
                        category="misc", budget_cents=100, status="completed",
                        assignee_id=worker, offer_id=uuid4(), version=4, created_at=at,
                        updated_at=at,
                    )
                )  # fmt: skip
                await conn.execute(
                    insert(OLD_REVIEWS).values(
                        id=uuid4(), task_id=task_id, author_id=owner, subject_id=worker,
                        rating=rating, comment=f"old {n}", created_at=at,
                    )
                )  # fmt: skip
        await asyncio.to_thread(command.upgrade, config, "head")
        cmd = ListUserReviews(user_id=worker, actor=Actor(uuid4(), Role.CLIENT))
        found = await usecases.list_user_reviews(TasksUnitOfWork(engine), cmd, now)
        assert [r.comment for r in found.page.items] == ["old 2", "old 1", "old 0"]
        assert all(r.visible_at == r.created_at for r in found.page.items)
        assert found.rating == reviews.summarize(ratings)
        # And back: the old single-review schema, with the owners' reviews kept.
        await asyncio.to_thread(command.downgrade, config, "0002")
        async with engine.connect() as conn:
            kept = (await conn.execute(select(OLD_REVIEWS.c.rating))).scalars().all()
        assert sorted(kept) == sorted(ratings)
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as conn:
            hidden = (
                await conn.execute(select(REVIEWS.c.id).where(REVIEWS.c.visible_at.is_(None)))
            ).all()
        assert hidden == []
    finally:
        await engine.dispose()
