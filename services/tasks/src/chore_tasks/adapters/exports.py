"""What tasks holds about one user, read for their export (`GET /tasks/me/export`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, Table, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chore_tasks.adapters.repository import dispute_of, offer_of, review_of, task_of
from chore_tasks.adapters.tables import DISPUTES, OFFERS, REVIEWS, TASKS
from chore_tasks.usecases.ports import UserData

R = TypeVar("R")


class UserDataRepository:
    """Every row naming the user as owner, tasker, author, subject or party, oldest first
    (an export is read start to end, like a record)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def of(self, user_id: UUID) -> UserData:
        return UserData(
            tasks=await self._all(TASKS, task_of, TASKS.c.owner_id == user_id),
            tasks_assigned=await self._all(TASKS, task_of, TASKS.c.assignee_id == user_id),
            offers=await self._all(OFFERS, offer_of, OFFERS.c.tasker_id == user_id),
            reviews_written=await self._all(REVIEWS, review_of, REVIEWS.c.author_id == user_id),
            # A review about the user is theirs to see only once visible: exporting a hidden
            # one would break the blind (docs/tasks.md, reviews).
            reviews_received=await self._all(
                REVIEWS,
                review_of,
                REVIEWS.c.subject_id == user_id,
                REVIEWS.c.visible_at.is_not(None),
            ),
            disputes=await self._all(
                DISPUTES,
                dispute_of,
                or_(DISPUTES.c.owner_id == user_id, DISPUTES.c.assignee_id == user_id),
            ),
        )

    async def _all(
        self,
        table: Table,
        make: Callable[[Mapping[Any, Any]], R],
        *where: ColumnElement[bool],
    ) -> list[R]:
        query = select(table).where(*where).order_by(table.c.created_at, table.c.id)
        return [make(row) for row in (await self.conn.execute(query)).mappings()]
