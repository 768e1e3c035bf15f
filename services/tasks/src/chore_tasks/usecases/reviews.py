"""Two-way, double-blind reviews: writing one, revealing them, reading a user's.

Revealing happens in exactly two places, both in a transaction that holds the task's lock:
the second review of a task reveals both; otherwise the `reveal_reviews` job, scheduled by
the first review for the end of the blind period (`usecases.scheduled`), reveals what was
written. Each reveal adds the rating to the subject's summary and records
`ReviewPublished` in that same transaction, once per review (`reviews.reveal` only counts
the rows it changed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import uuid4

from chore_common.paging import Page
from chore_tasks.domain import jobs, reviews
from chore_tasks.domain.jobs import RetryPolicy
from chore_tasks.domain.model import Review, Task
from chore_tasks.domain.reviews import BLIND_PERIOD, RatingSummary
from chore_tasks.usecases.access import check_limit, visible_task
from chore_tasks.usecases.commands import GetUserRating, ListUserReviews, ReviewTask
from chore_tasks.usecases.ports import TasksUnitOfWork
from chore_tasks.usecases.tasks import DEFAULT_RETRY


@dataclass(frozen=True, slots=True)
class UserReviews:
    page: Page[Review]
    rating: RatingSummary


async def review_task(
    uow: TasksUnitOfWork,
    cmd: ReviewTask,
    now: datetime,
    *,
    blind: timedelta = BLIND_PERIOD,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> Review:
    """Write the actor's review; the second of the task reveals both at once."""
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        written = await uow.reviews.of_task(task.id, lock=True)
        review, event = reviews.write_review(
            task,
            review_id=uuid4(),
            by=cmd.actor,
            rating=cmd.rating,
            comment=cmd.comment,
            written=written,
            now=now,
            blind=blind,
        )
        await uow.reviews.add(review)
        uow.record(event)
        if not written:
            await uow.jobs.add(
                jobs.reveal_job(
                    task.id, run_at=review.reveal_at, job_id=uuid4(), now=now, policy=retry
                )
            )
        shown = await publish_due(uow, task, [*written, review], now)
        await uow.commit()
    return next((r for r in shown if r.id == review.id), review)


async def publish_due(
    uow: TasksUnitOfWork, task: Task, written: Sequence[Review], now: datetime
) -> list[Review]:
    """Reveal what `reviews.due_to_reveal` says is due: store it visible, add each rating to
    its subject's summary and record `ReviewPublished`; returns the reviews this call
    revealed (one another transaction revealed first is skipped, so it counts once)."""
    shown: list[Review] = []
    for review in reviews.due_to_reveal(written, now):
        visible, event = reviews.reveal(review, task, now)
        if await uow.reviews.reveal(visible):
            await uow.ratings.add(visible.subject_id, visible.rating, now)
            uow.record(event)
            shown.append(visible)
    return shown


async def list_user_reviews(
    uow: TasksUnitOfWork, cmd: ListUserReviews, now: datetime
) -> UserReviews:
    """Anyone signed in reads anyone's visible reviews and summary; hidden ones exist for
    nobody here, their authors included (the POST answer is the author's copy)."""
    check_limit(cmd.limit)
    async with uow:
        page = await uow.reviews.visible_of(cmd.user_id, limit=cmd.limit, after=cmd.after)
        rating = await uow.ratings.of(cmd.user_id)
    return UserReviews(page, rating)


async def user_rating(uow: TasksUnitOfWork, cmd: GetUserRating, now: datetime) -> RatingSummary:
    """The summary of a user's visible reviews (only revealing adds to it)."""
    async with uow:
        return await uow.ratings.of(cmd.user_id)
