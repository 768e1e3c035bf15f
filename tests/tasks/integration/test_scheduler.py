"""The scheduler on a real database: due jobs run once across runners, failures back off and
end failed with their error visible to admins, and a dead runner's jobs are taken over."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.db import create_engine
from chore_tasks import usecases
from chore_tasks.adapters.group_commit import TransactionEach
from chore_tasks.adapters.scheduler import Scheduler
from chore_tasks.adapters.tables import JOBS, OUTBOX
from chore_tasks.adapters.uow import TasksUnitOfWork
from chore_tasks.domain.events import DomainEvent
from chore_tasks.domain.jobs import Job, JobKind, JobStatus, RetryPolicy
from chore_tasks.domain.model import Status, Task
from chore_tasks.usecases.commands import CreateTask, GetTask
from chore_tasks.usecases.ports import JobFilter
from chore_tasks.usecases.ports import TasksUnitOfWork as UnitOfWorkPort
from chore_tasks.usecases.scheduled import JOB_RUNNERS, JobRunner
from tasks.unit.factories import NOW, admin, client

from .conftest import Client, Issuer

pytestmark = pytest.mark.db

POLICY = RetryPolicy(
    max_attempts=3, base=timedelta(seconds=10), factor=2, lease=timedelta(minutes=1)
)
DUE = NOW + timedelta(hours=1)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


async def post_due(uow: Callable[[], TasksUnitOfWork], count: int) -> list[Task]:
    made = []
    for n in range(count):
        cmd = CreateTask(
            actor=client(),
            title=f"Chore {n}",
            description="",
            category="misc",
            budget_cents=100,
            due_at=DUE,
        )
        made.append(await usecases.create_task(TransactionEach(uow), cmd, NOW, retry=POLICY))
    return made


async def expired_events(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(OUTBOX.c.subject).where(OUTBOX.c.subject == "tasks.task.expired")
        )
    return len(rows.all())


async def all_jobs(uow: Callable[[], TasksUnitOfWork]) -> list[Job]:
    async with uow() as u:
        return (await u.jobs.list(JobFilter(limit=100))).items


def counting(runs: Counter[UUID]) -> dict[JobKind, JobRunner]:
    def wrap(runner: JobRunner) -> JobRunner:
        async def run(uow: UnitOfWorkPort, job: Job, now: datetime) -> DomainEvent | None:
            runs[job.id] += 1
            return await runner(uow, job, now)

        return run

    return {kind: wrap(runner) for kind, runner in JOB_RUNNERS.items()}


async def test_a_due_expiry_runs_once_and_the_task_expires(
    engine: AsyncEngine, uow: Callable[[], TasksUnitOfWork]
) -> None:
    [task] = await post_due(uow, 1)
    clock = Clock(DUE - timedelta(seconds=1))
    scheduler = Scheduler(engine, uow, POLICY, clock=clock)
    assert await scheduler.run_due() == 0  # not yet
    clock.at = DUE
    assert await scheduler.run_due() == 1
    assert await scheduler.run_due() == 0
    got = await usecases.get_task(uow(), GetTask(task_id=task.id, actor=admin()), NOW)
    assert (got.status, got.version) == (Status.EXPIRED, 2)
    [job] = await all_jobs(uow)
    assert (job.status, job.attempts) == (JobStatus.DONE, 1)
    assert await expired_events(engine) == 1


async def test_two_runners_share_due_jobs_and_each_runs_exactly_once(
    engine: AsyncEngine, uow: Callable[[], TasksUnitOfWork], database_url: str
) -> None:
    tasks = await post_due(uow, 60)
    other_engine = create_engine(database_url, pool_size=10)
    runs: Counter[UUID] = Counter()
    clock = Clock(DUE)
    schedulers = [
        Scheduler(engine, uow, POLICY, batch=7, runners=counting(runs), clock=clock),
        Scheduler(
            other_engine,
            lambda: TasksUnitOfWork(other_engine, producer="tasks"),
            POLICY,
            batch=7,
            runners=counting(runs),
            clock=clock,
        ),
    ]

    async def drain(scheduler: Scheduler) -> int:
        total = 0
        while claimed := await scheduler.run_due():
            total += claimed
        return total

    try:
        claimed = await asyncio.gather(*(drain(s) for s in schedulers))
    finally:
        await other_engine.dispose()
    assert sum(claimed) == len(tasks)
    assert set(runs.values()) == {1}
    assert len(runs) == len(tasks)
    assert {j.status for j in await all_jobs(uow)} == {JobStatus.DONE}
    assert await expired_events(engine) == len(tasks)


async def test_a_failing_job_backs_off_ends_failed_and_admins_see_its_error(
    engine: AsyncEngine,
    uow: Callable[[], TasksUnitOfWork],
    start_tasks: Callable[..., Awaitable[Client]],
    issuer: Issuer,
) -> None:
    [task] = await post_due(uow, 1)

    async def broken(uow: UnitOfWorkPort, job: Job, now: datetime) -> DomainEvent | None:
        raise RuntimeError("payment provider unreachable")

    clock = Clock(DUE)
    scheduler = Scheduler(engine, uow, POLICY, runners={JobKind.EXPIRE_TASK: broken}, clock=clock)
    tried_at = []
    for _ in range(POLICY.max_attempts):
        assert await scheduler.run_due() == 1
        tried_at.append(clock.at)
        [job] = await all_jobs(uow)
        if job.status is JobStatus.QUEUED:
            clock.at = job.run_at - timedelta(microseconds=1)
            assert await scheduler.run_due() == 0  # backing off
            clock.at = job.run_at
    assert [b - a for a, b in itertools.pairwise(tried_at)] == POLICY.schedule()
    [job] = await all_jobs(uow)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 3)
    clock.at += timedelta(days=1)
    assert await scheduler.run_due() == 0  # failed stays failed

    tasks = await start_tasks(scheduler_enabled=False)
    boss = issuer.user("admin")
    resp = await tasks.get("/tasks/admin/jobs", params={"status": "failed"}, headers=boss.headers)
    assert resp.status == 200
    [shown] = (await resp.json())["items"]
    assert shown["task_id"] == str(task.id)
    assert shown["last_error"] == "RuntimeError: payment provider unreachable"
    assert shown["attempts"] == 3
    resp = await tasks.get("/tasks/admin/jobs", headers=issuer.user("client").headers)
    assert resp.status == 403

    resp = await tasks.post(f"/tasks/admin/jobs/{shown['id']}/retry", headers=boss.headers)
    assert resp.status == 200
    assert (await resp.json())["status"] == "queued"
    # Retried "now" by the wall clock; the run comes after that and after the task's due
    # time (DUE is a fixed date, so the wall clock is past it from 2026-11-24 on).
    later = max(DUE, datetime.now(UTC)) + timedelta(days=1)
    working = Scheduler(engine, uow, POLICY, clock=Clock(later))
    assert await working.run_due() == 1
    resp = await tasks.get(f"/tasks/admin/jobs/{shown['id']}", headers=boss.headers)
    assert (await resp.json())["status"] == "done"
    resp = await tasks.delete(f"/tasks/admin/jobs/{shown['id']}", headers=boss.headers)
    assert resp.status == 204
    resp = await tasks.get(f"/tasks/admin/jobs/{shown['id']}", headers=boss.headers)
    assert resp.status == 404


async def test_a_dead_runners_job_is_taken_over_after_its_lease_and_runs_once(
    engine: AsyncEngine, uow: Callable[[], TasksUnitOfWork]
) -> None:
    await post_due(uow, 1)
    clock = Clock(DUE)
    [held] = await Scheduler(engine, uow, POLICY, clock=clock).claim(clock())
    # That runner dies here. Before the lease lapses nobody else may take the job.
    survivor = Scheduler(engine, uow, POLICY, clock=clock)
    clock.at = DUE + POLICY.lease - timedelta(seconds=1)
    assert await survivor.run_due() == 0
    clock.at = DUE + POLICY.lease
    assert await survivor.run_due() == 1
    [job] = await all_jobs(uow)
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)
    # The first runner wakes up and tries to finish: refused, nothing recorded twice.
    with pytest.raises(Exception, match="no longer held"):
        await JOB_RUNNERS[held.kind](uow(), held, clock())
    assert await expired_events(engine) == 1


async def test_a_job_of_a_kind_this_version_does_not_know_is_left_for_one_that_does(
    engine: AsyncEngine, uow: Callable[[], TasksUnitOfWork]
) -> None:
    [task] = await post_due(uow, 1)
    async with engine.begin() as conn:
        await conn.execute(
            JOBS.insert().values(
                id=uuid4(),
                kind="from_the_future",
                task_id=task.id,
                run_at=NOW,
                status="queued",
                attempts=0,
                max_attempts=3,
                version=1,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    scheduler = Scheduler(engine, uow, POLICY, clock=Clock(DUE))
    assert await scheduler.run_due() == 1  # the expiry runs; the unknown row waits
    assert await scheduler.run_due() == 0
    assert [j.kind for j in await all_jobs(uow)] == [JobKind.EXPIRE_TASK]  # listing still works
