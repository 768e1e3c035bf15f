"""Two-way, double-blind reviews: hidden until both wrote or the blind period ended, counted
in the subject's summary exactly once, when they become visible."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from chore_common.errors import Conflict
from chore_tasks import usecases
from chore_tasks.domain import reviews
from chore_tasks.domain.events import ReviewCreated, ReviewPublished
from chore_tasks.domain.jobs import JobKind, JobStatus, RetryPolicy
from chore_tasks.domain.model import Actor, Review, Status, Task
from chore_tasks.domain.reviews import RatingSummary
from chore_tasks.usecases.commands import ListUserReviews, ReviewTask

from .factories import NOW, client, make_task, tasker
from .fakes import FakeDatabase, put

POLICY = RetryPolicy(max_attempts=3, base=timedelta(seconds=1), factor=2)
BLIND = timedelta(days=14)


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


def completed(db: FakeDatabase) -> tuple[Actor, Actor, Task]:
    owner, worker = client(), tasker()
    task = make_task(owner=owner, assignee=worker, status=Status.COMPLETED)
    put(db, task)
    return owner, worker, task


async def write(db: FakeDatabase, task: Task, by: Actor, rating: int, at: timedelta) -> Review:
    cmd = ReviewTask(task_id=task.id, actor=by, rating=rating, comment=f"{rating} stars")
    return await usecases.review_task(db.uow(), cmd, NOW + at, blind=BLIND, retry=POLICY)


async def visible_of(db: FakeDatabase, user: Actor) -> tuple[list[int], RatingSummary]:
    cmd = ListUserReviews(user_id=user.user_id, actor=client(), limit=100)
    found = await usecases.list_user_reviews(db.uow(), cmd, NOW)
    return [r.rating for r in found.page.items], found.rating


def hidden(author: Actor, *, reveal_in: timedelta, shown: bool = False) -> Review:
    return Review(
        id=uuid4(),
        task_id=uuid4(),
        author_id=author.user_id,
        subject_id=uuid4(),
        rating=3,
        comment="",
        created_at=NOW,
        reveal_at=NOW + reveal_in,
        visible_at=NOW if shown else None,
    )


A, B = client(), tasker()


@pytest.mark.parametrize(
    ("written", "due"),
    [
        ([], 0),
        ([hidden(A, reveal_in=timedelta(days=1))], 0),  # one side, period running
        ([hidden(A, reveal_in=timedelta(0))], 1),  # one side, period over
        ([hidden(A, reveal_in=timedelta(days=1)), hidden(B, reveal_in=timedelta(days=1))], 2),
        (
            [
                hidden(A, reveal_in=timedelta(days=1), shown=True),
                hidden(B, reveal_in=timedelta(days=1)),
            ],
            1,
        ),
    ],
)
def test_what_is_due_to_reveal(written: list[Review], due: int) -> None:
    assert len(reviews.due_to_reveal(written, NOW)) == due


def test_the_summary_counts_means_and_distributes() -> None:
    summary = reviews.summarize([5, 4, 4, 1])
    assert (summary.count, summary.total, summary.stars) == (4, 14, (1, 0, 0, 2, 1))
    assert summary.mean == 3.5
    assert RatingSummary().mean is None


async def test_one_review_stays_hidden_and_schedules_its_reveal(db: FakeDatabase) -> None:
    owner, worker, task = completed(db)
    review = await write(db, task, owner, 5, timedelta(hours=1))
    assert review.visible_at is None
    assert review.reveal_at == task.updated_at + BLIND
    [job] = db.jobs.values()
    assert (job.kind, job.run_at, job.task_id) == (
        JobKind.REVEAL_REVIEWS,
        review.reveal_at,
        task.id,
    )
    assert await visible_of(db, worker) == ([], RatingSummary())
    assert db.events_of(ReviewPublished) == []


async def test_the_second_review_reveals_both_and_counts_each_once(db: FakeDatabase) -> None:
    owner, worker, task = completed(db)
    await write(db, task, owner, 5, timedelta(hours=1))
    second = await write(db, task, worker, 2, timedelta(hours=2))
    assert second.visible_at == NOW + timedelta(hours=2)
    assert await visible_of(db, worker) == ([5], reviews.summarize([5]))
    assert await visible_of(db, owner) == ([2], reviews.summarize([2]))
    published = db.events_of(ReviewPublished)
    assert sorted((e.subject_id, e.rating) for e in published) == sorted(
        [(worker.user_id, 5), (owner.user_id, 2)]
    )
    assert len(db.jobs) == 1  # only the first review scheduled a reveal
    with pytest.raises(Conflict) as caught:
        await write(db, task, worker, 4, timedelta(hours=3))
    assert caught.value.code == "already_reviewed"


async def test_both_sides_writing_at_once_still_reveal_both(db: FakeDatabase) -> None:
    owner, worker, task = completed(db)
    await asyncio.gather(
        write(db, task, owner, 4, timedelta(hours=1)),
        write(db, task, worker, 3, timedelta(hours=1)),
    )
    assert all(r.visible_at is not None for r in db.reviews.values())
    assert len(db.events_of(ReviewPublished)) == 2
    assert len(db.events_of(ReviewCreated)) == 2


async def test_the_reveal_job_waits_for_the_period_then_shows_the_lone_review(
    db: FakeDatabase,
) -> None:
    owner, worker, task = completed(db)
    review = await write(db, task, owner, 4, timedelta(hours=1))
    [job] = db.jobs.values()
    # Run early (an admin's run-now): it goes back to sleep until the period ends.
    early = NOW + timedelta(days=2)
    db.jobs[job.id] = replace(job, run_at=early)
    [claimed] = db.claim_due(early, POLICY)
    assert await usecases.run_claimed_job(db.uow(), claimed, early) is None
    assert (db.jobs[job.id].status, db.jobs[job.id].run_at) == (JobStatus.QUEUED, review.reveal_at)
    assert await visible_of(db, worker) == ([], RatingSummary())
    [claimed] = db.claim_due(review.reveal_at, POLICY)
    await usecases.run_claimed_job(db.uow(), claimed, review.reveal_at)
    assert db.jobs[job.id].status is JobStatus.DONE
    assert await visible_of(db, worker) == ([4], reviews.summarize([4]))
    [event] = db.events_of(ReviewPublished)
    assert (event.subject_id, event.occurred_at) == (worker.user_id, review.reveal_at)
    # The period is also the window: the other side may no longer answer.
    with pytest.raises(Conflict) as caught:
        await write(db, task, worker, 1, BLIND)
    assert caught.value.code == "review_closed"


async def test_the_job_after_both_wrote_ends_quietly(db: FakeDatabase) -> None:
    owner, worker, task = completed(db)
    await write(db, task, owner, 5, timedelta(hours=1))
    await write(db, task, worker, 5, timedelta(hours=2))
    [job] = db.jobs.values()
    [claimed] = db.claim_due(job.run_at, POLICY)
    await usecases.run_claimed_job(db.uow(), claimed, job.run_at)
    assert db.jobs[job.id].status is JobStatus.DONE
    assert len(db.events_of(ReviewPublished)) == 2
    assert (await visible_of(db, worker))[1].count == 1
