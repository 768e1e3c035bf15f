"""Property: after 200 random reviews on a real database, what anyone sees of each user (their
visible reviews, paged, and their rating summary) is what a Python model of the double-blind
rules says, before and after the blind periods end (the real scheduler reveals)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.paging import PageKey
from chore_tasks import usecases
from chore_tasks.adapters.scheduler import Scheduler
from chore_tasks.adapters.uow import TasksUnitOfWork
from chore_tasks.domain import reviews
from chore_tasks.domain.jobs import RetryPolicy
from chore_tasks.domain.model import Actor, Role, Status, Task
from chore_tasks.domain.reviews import BLIND_PERIOD, RatingSummary
from chore_tasks.usecases.commands import ListUserReviews, ReviewTask

pytestmark = pytest.mark.db

REVIEWS = 200
USERS = 6
T0 = datetime(2026, 3, 1, tzinfo=UTC)
POLICY = RetryPolicy()


@dataclass(frozen=True)
class Plan:
    """One completed task: who owns and did it, when it completed (days after T0), and the
    ratings each side gives (None: that side never writes)."""

    owner: int
    worker: int
    completed_day: int
    by_owner: int | None
    by_worker: int | None
    worker_first: bool


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    owner = draw(st.integers(0, USERS - 1))
    sides = draw(st.sampled_from(["owner", "worker", "both"]))
    return Plan(
        owner=owner,
        worker=(owner + draw(st.integers(1, USERS - 1))) % USERS,
        completed_day=draw(st.integers(0, 20)),
        by_owner=draw(st.integers(1, 5)) if sides != "worker" else None,
        by_worker=draw(st.integers(1, 5)) if sides != "owner" else None,
        worker_first=draw(st.booleans()),
    )


def up_to(plans: list[Plan], count: int) -> list[Plan]:
    """The plans whose reviews add up to exactly `count` (the last one trimmed to one)."""
    chosen, total = [], 0
    for plan in plans:
        writes = (plan.by_owner is not None) + (plan.by_worker is not None)
        if total + writes > count:
            plan = Plan(plan.owner, plan.worker, plan.completed_day, plan.by_owner, None, False)
            writes = 1
        chosen.append(plan)
        total += writes
        if total == count:
            return chosen
    raise AssertionError("not enough plans")


@dataclass
class Written:
    plan: Plan
    subject: int
    rating: int
    both: bool


def model(written: list[Written], now: datetime) -> dict[int, list[int]]:
    """The ratings each user has visible at `now`: both sides wrote, or the period ended."""
    shown: dict[int, list[int]] = {u: [] for u in range(USERS)}
    for w in written:
        ends = T0 + timedelta(days=w.plan.completed_day) + BLIND_PERIOD
        if w.both or now >= ends:
            shown[w.subject].append(w.rating)
    return shown


def completed(plan: Plan, users: list[Actor]) -> Task:
    at = T0 + timedelta(days=plan.completed_day)
    return Task(
        id=uuid4(),
        owner_id=users[plan.owner].user_id,
        title="Clear the gutters",
        description="",
        category="garden",
        budget_cents=5000,
        currency="EUR",
        due_at=None,
        location=None,
        status=Status.COMPLETED,
        assignee_id=users[plan.worker].user_id,
        offer_id=uuid4(),
        cancel_reason=None,
        version=4,
        created_at=at - timedelta(days=1),
        updated_at=at,
    )


async def write_all(
    uow: Callable[[], TasksUnitOfWork], plans: list[Plan], users: list[Actor], seed: int
) -> list[Written]:
    tasks = [completed(plan, users) for plan in plans]
    async with uow() as tx:
        await tx.tasks.add(*tasks)
        await tx.commit()
    steps: list[tuple[Task, Plan, bool]] = []
    for task, plan in zip(tasks, plans, strict=True):
        sides = [side for side, r in ((False, plan.by_owner), (True, plan.by_worker)) if r]
        steps += [(task, plan, side) for side in (reversed(sides) if plan.worker_first else sides)]
    random.Random(seed).shuffle(steps)  # tasks interleave; each task keeps its own order
    written = []
    for n, (task, plan, by_worker) in enumerate(steps):
        author, subject = (plan.worker, plan.owner) if by_worker else (plan.owner, plan.worker)
        stars = plan.by_worker if by_worker else plan.by_owner
        assert stars is not None
        now = task.updated_at + timedelta(hours=1, seconds=n)
        cmd = ReviewTask(task_id=task.id, actor=users[author], rating=stars, comment=str(n))
        await usecases.review_task(uow(), cmd, now)
        both = plan.by_owner is not None and plan.by_worker is not None
        written.append(Written(plan, subject, stars, both))
    return written


async def seen(uow: Callable[[], TasksUnitOfWork], user: UUID) -> tuple[list[int], RatingSummary]:
    """Every visible review of `user`, read page by page as a client would."""
    ratings: list[int] = []
    after: PageKey | None = None
    while True:
        cmd = ListUserReviews(user_id=user, actor=Actor(uuid4(), Role.CLIENT), limit=7, after=after)
        found = await usecases.list_user_reviews(uow(), cmd, T0)
        ratings += [r.rating for r in found.page.items]
        if (after := found.page.next_key) is None:
            return ratings, found.rating


async def check(
    uow: Callable[[], TasksUnitOfWork], users: list[Actor], written: list[Written], at: datetime
) -> None:
    expected = model(written, at)
    for n, user in enumerate(users):
        ratings, summary = await seen(uow, user.user_id)
        assert sorted(ratings) == sorted(expected[n]), (n, at)
        mine = expected[n]
        stars = tuple(mine.count(k) for k in range(1, 6))
        assert (summary.count, summary.total, summary.stars) == (len(mine), sum(mine), stars)
        assert summary.mean == (round(sum(mine) / len(mine), 2) if mine else None)


async def reveal_due(engine: AsyncEngine, uow: Callable[[], TasksUnitOfWork], at: datetime) -> None:
    scheduler = Scheduler(engine, uow, POLICY, clock=lambda: at)
    while await scheduler.run_due():
        pass


@settings(
    max_examples=3,
    deadline=None,
    database=None,
    # Shrinking replays 200 database writes per step: a failure reports the drawn example.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=st.lists(plans(), min_size=REVIEWS, max_size=REVIEWS), seed=st.integers(0, 2**32))
async def test_summaries_and_pages_match_a_model_after_200_random_reviews(
    engine: AsyncEngine, uow: Callable[[], TasksUnitOfWork], drawn: list[Plan], seed: int
) -> None:
    users = [Actor(uuid4(), Role.CLIENT if n % 2 else Role.TASKER) for n in range(USERS)]
    written = await write_all(uow, up_to(drawn, REVIEWS), users, seed)
    assert len(written) == REVIEWS
    # Only tasks both sides reviewed show, until the scheduler reveals the rest.
    await check(uow, users, written, T0)
    middle = T0 + BLIND_PERIOD + timedelta(days=10)
    await reveal_due(engine, uow, middle)
    await check(uow, users, written, middle)
    end = T0 + BLIND_PERIOD + timedelta(days=21)
    await reveal_due(engine, uow, end)
    await check(uow, users, written, end)
    assert sum(len(r) for r in model(written, end).values()) == REVIEWS


async def test_both_sides_writing_at_the_same_moment_reveal_both_once(
    uow: Callable[[], TasksUnitOfWork],
) -> None:
    """Without the task's lock, each would see only itself and both would stay hidden."""
    for _ in range(10):
        owner, worker = Actor(uuid4(), Role.CLIENT), Actor(uuid4(), Role.TASKER)
        plan = Plan(0, 1, 0, 4, 2, False)
        [task] = [completed(plan, [owner, worker])]
        async with uow() as tx:
            await tx.tasks.add(task)
            await tx.commit()
        now = task.updated_at + timedelta(hours=1)
        await asyncio.gather(
            *(
                usecases.review_task(
                    uow(), ReviewTask(task_id=task.id, actor=who, rating=r, comment=""), now
                )
                for who, r in ((owner, 4), (worker, 2))
            )
        )
        assert (await seen(uow, worker.user_id)) == ([4], reviews.summarize([4]))
        assert (await seen(uow, owner.user_id)) == ([2], reviews.summarize([2]))
