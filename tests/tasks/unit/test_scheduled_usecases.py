"""Scheduled use cases: each job's effect and its bookkeeping land in one commit, or neither."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from chore_common.errors import Conflict, Forbidden
from chore_tasks import usecases
from chore_tasks.domain import jobs
from chore_tasks.domain.errors import JobNotFound
from chore_tasks.domain.events import ReminderDue, TaskExpired
from chore_tasks.domain.jobs import Job, JobKind, JobStatus, RetryPolicy
from chore_tasks.domain.model import Status, Task
from chore_tasks.usecases.commands import (
    ExpireTask,
    JobCommand,
    ListJobs,
    RecordJobFailure,
    RemindAssignee,
)

from .factories import NOW, admin, client, make_task, tasker
from .fakes import FakeDatabase, put, stored

POLICY = RetryPolicy(max_attempts=3, base=timedelta(seconds=1), factor=2)


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


def job_for(task: Task, kind: JobKind, run_at: timedelta = timedelta(0)) -> Job:
    return jobs.new_job(
        job_id=uuid4(), kind=kind, task_id=task.id, run_at=NOW + run_at, now=NOW, policy=POLICY
    )


def claim_one(db: FakeDatabase, at: timedelta = timedelta(0)) -> Job:
    [job] = db.claim_due(NOW + at, POLICY)
    return job


async def test_a_due_open_task_expires_and_its_job_is_done_in_the_same_commit(
    db: FakeDatabase,
) -> None:
    task = make_task(due_at=NOW)
    put(db, task, job_for(task, JobKind.EXPIRE_TASK))
    job = claim_one(db)
    event = await usecases.run_claimed_job(db.uow(), job, NOW)
    assert isinstance(event, TaskExpired)
    assert stored(db, task).status is Status.EXPIRED
    assert db.jobs[job.id].status is JobStatus.DONE
    assert db.events == [event]
    assert db.commits == 1


async def test_an_expiry_for_a_task_already_assigned_is_done_quietly(db: FakeDatabase) -> None:
    task = make_task(status=Status.ASSIGNED, due_at=NOW)
    put(db, task, job_for(task, JobKind.EXPIRE_TASK))
    job = claim_one(db)
    assert await usecases.run_claimed_job(db.uow(), job, NOW) is None
    assert stored(db, task) == task
    assert db.jobs[job.id].status is JobStatus.DONE
    assert db.events == []


async def test_an_expiry_run_early_goes_back_to_sleep_until_the_due_time(
    db: FakeDatabase,
) -> None:
    task = make_task(due_at=NOW + timedelta(hours=2))
    put(db, task, job_for(task, JobKind.EXPIRE_TASK))
    job = claim_one(db)
    assert await usecases.run_claimed_job(db.uow(), job, NOW) is None
    slept = db.jobs[job.id]
    assert (slept.status, slept.run_at, slept.attempts) == (JobStatus.QUEUED, task.due_at, 0)
    assert stored(db, task).status is Status.OPEN


async def test_a_job_taken_over_by_another_replica_changes_nothing_here(
    db: FakeDatabase,
) -> None:
    task = make_task(due_at=NOW)
    put(db, task, job_for(task, JobKind.EXPIRE_TASK))
    ours = claim_one(db)
    # Our lease lapsed; another replica reclaimed it (attempt 2).
    theirs = claim_one(db, at=POLICY.lease)
    assert theirs.attempts == 2
    with pytest.raises(Conflict) as caught:
        await usecases.expire_task(
            db.uow(), ExpireTask(task_id=task.id, job_id=ours.id, attempt=ours.attempts), NOW
        )
    assert caught.value.code == "job_lost"
    assert stored(db, task).status is Status.OPEN
    assert db.events == []


async def test_expiring_without_a_job_still_expires_a_due_task(db: FakeDatabase) -> None:
    task = make_task(due_at=NOW - timedelta(minutes=1))
    put(db, task)
    event = await usecases.expire_task(db.uow(), ExpireTask(task_id=task.id), NOW)
    assert event is not None
    assert stored(db, task).version == task.version + 1


async def test_a_deleted_job_cannot_be_finished(db: FakeDatabase) -> None:
    task = make_task(due_at=NOW)
    put(db, task)
    with pytest.raises(JobNotFound):
        await usecases.expire_task(
            db.uow(), ExpireTask(task_id=task.id, job_id=uuid4(), attempt=1), NOW
        )


async def test_the_assignee_is_reminded_once_the_last_hour_begins(db: FakeDatabase) -> None:
    worker = tasker()
    task = make_task(status=Status.IN_PROGRESS, assignee=worker, due_at=NOW + timedelta(hours=1))
    put(db, task, job_for(task, JobKind.REMIND_ASSIGNEE))
    job = claim_one(db)
    event = await usecases.run_claimed_job(db.uow(), job, NOW)
    assert isinstance(event, ReminderDue)
    assert (event.assignee_id, event.owner_id, event.due_at) == (
        worker.user_id,
        task.owner_id,
        task.due_at,
    )
    assert db.jobs[job.id].status is JobStatus.DONE
    assert stored(db, task) == task


async def test_no_reminder_for_a_cancelled_task(db: FakeDatabase) -> None:
    task = make_task(status=Status.CANCELLED, assignee=tasker(), due_at=NOW + timedelta(minutes=5))
    put(db, task)
    assert await usecases.remind_assignee(db.uow(), RemindAssignee(task_id=task.id), NOW) is None
    assert db.events == []


async def test_a_reminder_run_early_waits_for_the_last_hour(db: FakeDatabase) -> None:
    task = make_task(status=Status.ASSIGNED, due_at=NOW + timedelta(hours=3))
    put(db, task, job_for(task, JobKind.REMIND_ASSIGNEE))
    job = claim_one(db)
    assert await usecases.run_claimed_job(db.uow(), job, NOW) is None
    assert db.jobs[job.id].run_at == NOW + timedelta(hours=2)


async def test_a_failing_job_backs_off_then_ends_failed_with_its_error(db: FakeDatabase) -> None:
    task = make_task(due_at=NOW)
    put(db, task, job_for(task, JobKind.EXPIRE_TASK))
    at = timedelta(0)
    for n in range(1, POLICY.max_attempts + 1):
        job = claim_one(db, at=at)
        after = await usecases.record_job_failure(
            db.uow(),
            RecordJobFailure(job_id=job.id, attempt=job.attempts, error=f"db down ({n})"),
            NOW + at,
            retry=POLICY,
        )
        if n < POLICY.max_attempts:
            assert after.status is JobStatus.QUEUED
            assert after.run_at - (NOW + at) == POLICY.delay(n)
            at = after.run_at - NOW
    failed = db.jobs[job.id]
    assert (failed.status, failed.attempts, failed.last_error) == (
        JobStatus.FAILED,
        3,
        "db down (3)",
    )
    assert db.claim_due(NOW + timedelta(days=1), POLICY) == []


async def test_admins_list_jobs_by_status(db: FakeDatabase) -> None:
    task = make_task(due_at=NOW)
    queued, other = job_for(task, JobKind.EXPIRE_TASK), job_for(task, JobKind.REMIND_ASSIGNEE)
    put(db, task, queued, other)
    done = jobs.succeed(jobs.claim(other, now=NOW, policy=POLICY), now=NOW)
    put(db, done)
    page = await usecases.list_jobs(db.uow(), ListJobs(actor=admin(), status=JobStatus.DONE), NOW)
    assert [j.id for j in page.items] == [other.id]
    page = await usecases.list_jobs(
        db.uow(), ListJobs(actor=admin(), kind=JobKind.EXPIRE_TASK), NOW
    )
    assert [j.id for j in page.items] == [queued.id]


async def test_only_admins_touch_jobs(db: FakeDatabase) -> None:
    task = make_task()
    job = job_for(task, JobKind.EXPIRE_TASK)
    put(db, task, job)
    for who in (client(), tasker()):
        with pytest.raises(Forbidden):
            await usecases.list_jobs(db.uow(), ListJobs(actor=who), NOW)
        for action in (usecases.retry_job, usecases.run_job_now, usecases.delete_job):
            with pytest.raises(Forbidden):
                await action(db.uow(), JobCommand(job_id=job.id, actor=who), NOW)
    assert db.jobs[job.id] == job


async def test_an_admin_retries_a_failed_job_and_it_becomes_due_again(db: FakeDatabase) -> None:
    task = make_task(due_at=NOW)
    job = job_for(task, JobKind.EXPIRE_TASK)
    for _ in range(POLICY.max_attempts):
        job = jobs.fail(
            jobs.claim(job, now=job.run_at, policy=POLICY), "x", now=job.run_at, policy=POLICY
        )
    put(db, task, job)
    later = NOW + timedelta(hours=1)
    retried = await usecases.retry_job(db.uow(), JobCommand(job_id=job.id, actor=admin()), later)
    assert (retried.status, retried.attempts) == (JobStatus.QUEUED, 0)
    assert [j.id for j in db.claim_due(later, POLICY)] == [job.id]


async def test_an_admin_runs_a_future_job_now(db: FakeDatabase) -> None:
    task = make_task(due_at=NOW + timedelta(days=1))
    job = job_for(task, JobKind.EXPIRE_TASK, run_at=timedelta(days=1))
    put(db, task, job)
    await usecases.run_job_now(db.uow(), JobCommand(job_id=job.id, actor=admin()), NOW)
    assert [j.id for j in db.claim_due(NOW, POLICY)] == [job.id]


async def test_an_admin_deletes_a_queued_job_but_not_a_running_one(db: FakeDatabase) -> None:
    task = make_task(due_at=NOW)
    queued, running = job_for(task, JobKind.EXPIRE_TASK), job_for(task, JobKind.EXPIRE_TASK)
    put(db, task, queued, jobs.claim(running, now=NOW, policy=POLICY))
    await usecases.delete_job(db.uow(), JobCommand(job_id=queued.id, actor=admin()), NOW)
    assert queued.id not in db.jobs
    with pytest.raises(Conflict):
        await usecases.delete_job(db.uow(), JobCommand(job_id=running.id, actor=admin()), NOW)
    assert running.id in db.jobs
    with pytest.raises(JobNotFound):
        await usecases.get_job(db.uow(), JobCommand(job_id=queued.id, actor=admin()), NOW)
