"""The owner's one review of a completed task."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from chore_tasks.domain import reviews
from chore_tasks.domain.model import Review
from chore_tasks.usecases.access import visible_task
from chore_tasks.usecases.commands import ReviewTask
from chore_tasks.usecases.ports import TasksUnitOfWork


async def review_task(uow: TasksUnitOfWork, cmd: ReviewTask, now: datetime) -> Review:
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        review, event = reviews.write_review(
            task,
            review_id=uuid4(),
            by=cmd.actor,
            rating=cmd.rating,
            comment=cmd.comment,
            # Two racing reviews both see none here; the repository's unique index refuses one.
            already_reviewed=await uow.reviews.for_task(task.id) is not None,
            now=now,
        )
        await uow.reviews.add(review)
        uow.record(event)
        await uow.commit()
    return review
