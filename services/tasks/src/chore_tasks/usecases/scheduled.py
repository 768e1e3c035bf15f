"""What the scheduler runs: expire a task, remind its assignee, auto-confirm a done task,
reveal reviews whose blind period ended, record a failed try.

A claimed job is finished (or postponed) in the same transaction as its effect, so a
replica that dies after committing never runs it again and one that dies before leaves it
to be reclaimed: the event is recorded exactly once. A job whose task has moved on (an
expiry for a task already assigned, a reminder for a cancelled one) ends `done` quietly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final
from uuid import UUID

from chore_common.errors import Conflict
from chore_tasks.domain import jobs, lifecycle, reviews
from chore_tasks.domain.errors import JobNotFound
from chore_tasks.domain.events import DomainEvent, ReminderDue, TaskCompleted, TaskExpired
from chore_tasks.domain.jobs import Job, JobKind, JobStatus, RetryPolicy
from chore_tasks.domain.model import SCHEDULER, Review, Status
from chore_tasks.usecases.commands import (
    AutoConfirmTask,
    ExpireTask,
    RecordJobFailure,
    RemindAssignee,
    RevealReviews,
)
from chore_tasks.usecases.ports import TasksUnitOfWork
from chore_tasks.usecases.reviews import publish_due
from chore_tasks.usecases.tasks import DEFAULT_RETRY

REMINDABLE = frozenset({Status.ASSIGNED, Status.IN_PROGRESS})


async def expire_task(uow: TasksUnitOfWork, cmd: ExpireTask, now: datetime) -> TaskExpired | None:
    """Expire the task if it is still open and due; returns the event, or None if moot."""
    async with uow:
        job = await _claimed(uow, cmd.job_id, cmd.attempt)
        task = await uow.tasks.get(cmd.task_id)
        event: TaskExpired | None = None
        wake_at: datetime | None = None
        if task is not None and task.status is Status.OPEN and task.due_at is not None:
            if lifecycle.is_due(task, now):
                moved, event = lifecycle.expire(task, by=SCHEDULER, now=now)
                await uow.tasks.save(moved, expected_version=task.version)
                uow.record(event)
            else:
                # An admin's run-now, or a replica whose clock runs ahead: not yet.
                wake_at = task.due_at
        await _finish(uow, job, now, wake_at)
        await uow.commit()
    return event


async def remind_assignee(
    uow: TasksUnitOfWork, cmd: RemindAssignee, now: datetime
) -> ReminderDue | None:
    """Tell the assignee the task is due within the hour; None if there is no one to remind."""
    async with uow:
        job = await _claimed(uow, cmd.job_id, cmd.attempt)
        task = await uow.tasks.get(cmd.task_id)
        event: ReminderDue | None = None
        wake_at: datetime | None = None
        if (
            task is not None
            and task.status in REMINDABLE
            and task.assignee_id is not None
            and task.due_at is not None
        ):
            remind_at = task.due_at - jobs.REMINDER_LEAD
            if now < remind_at:
                wake_at = remind_at
            else:
                event = ReminderDue(
                    occurred_at=now,
                    task_id=task.id,
                    owner_id=task.owner_id,
                    assignee_id=task.assignee_id,
                    title=task.title,
                    due_at=task.due_at,
                )
                uow.record(event)
        await _finish(uow, job, now, wake_at)
        await uow.commit()
    return event


async def auto_confirm_task(
    uow: TasksUnitOfWork, cmd: AutoConfirmTask, now: datetime
) -> TaskCompleted | None:
    """Complete a task still `done` when its time to be confirmed or disputed is over; None
    if the owner already confirmed or disputed it."""
    async with uow:
        job = await _claimed(uow, cmd.job_id, cmd.attempt)
        task = await uow.tasks.get(cmd.task_id)
        event: TaskCompleted | None = None
        if task is not None and task.status is Status.DONE:
            moved, event = lifecycle.auto_confirm(task, by=SCHEDULER, now=now)
            await uow.tasks.save(moved, expected_version=task.version)
            uow.record(event)
        await _finish(uow, job, now, None)
        await uow.commit()
    return event


async def reveal_reviews(uow: TasksUnitOfWork, cmd: RevealReviews, now: datetime) -> list[Review]:
    """Show the task's hidden reviews once their blind period has ended (run early, by an
    admin or a clock running ahead, it goes back to sleep until then); returns those it
    showed, none when both sides had written and nothing was left hidden."""
    async with uow:
        job = await _claimed(uow, cmd.job_id, cmd.attempt)
        task = await uow.tasks.get(cmd.task_id)
        shown: list[Review] = []
        wake_at: datetime | None = None
        if task is not None:
            written = await uow.reviews.of_task(task.id, lock=True)
            shown = await publish_due(uow, task, written, now)
            if not shown:
                wake_at = reviews.next_reveal(written)
        await _finish(uow, job, now, wake_at)
        await uow.commit()
    return shown


async def record_job_failure(
    uow: TasksUnitOfWork,
    cmd: RecordJobFailure,
    now: datetime,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> Job:
    """Back the job off for another try, or mark it failed after its last."""
    async with uow:
        job = await _claimed(uow, cmd.job_id, cmd.attempt)
        assert job is not None  # _claimed only returns None without a job id
        failed = jobs.fail(job, cmd.error, now=now, policy=retry)
        await uow.jobs.save(failed, expected_version=job.version)
        await uow.commit()
    return failed


JobRunner = Callable[[TasksUnitOfWork, Job, datetime], Awaitable[DomainEvent | None]]


async def _run_expiry(uow: TasksUnitOfWork, job: Job, now: datetime) -> DomainEvent | None:
    return await expire_task(
        uow, ExpireTask(task_id=job.task_id, job_id=job.id, attempt=job.attempts), now
    )


async def _run_reminder(uow: TasksUnitOfWork, job: Job, now: datetime) -> DomainEvent | None:
    return await remind_assignee(
        uow, RemindAssignee(task_id=job.task_id, job_id=job.id, attempt=job.attempts), now
    )


async def _run_auto_confirm(uow: TasksUnitOfWork, job: Job, now: datetime) -> DomainEvent | None:
    return await auto_confirm_task(
        uow, AutoConfirmTask(task_id=job.task_id, job_id=job.id, attempt=job.attempts), now
    )


async def _run_reveal(uow: TasksUnitOfWork, job: Job, now: datetime) -> DomainEvent | None:
    cmd = RevealReviews(task_id=job.task_id, job_id=job.id, attempt=job.attempts)
    await reveal_reviews(uow, cmd, now)
    return None  # one event per review shown: they are in the outbox


JOB_RUNNERS: Final[Mapping[JobKind, JobRunner]] = MappingProxyType(
    {
        JobKind.EXPIRE_TASK: _run_expiry,
        JobKind.REMIND_ASSIGNEE: _run_reminder,
        JobKind.AUTO_CONFIRM: _run_auto_confirm,
        JobKind.REVEAL_REVIEWS: _run_reveal,
    }
)


async def run_claimed_job(uow: TasksUnitOfWork, job: Job, now: datetime) -> DomainEvent | None:
    """The scheduler's single entry point for a job it has claimed (status RUNNING)."""
    return await JOB_RUNNERS[job.kind](uow, job, now)


async def _claimed(uow: TasksUnitOfWork, job_id: UUID | None, attempt: int) -> Job | None:
    if job_id is None:
        return None
    job = await uow.jobs.get(job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    if job.status is not JobStatus.RUNNING or job.attempts != attempt:
        # Our lease lapsed and another replica took the job over: its run counts, not ours.
        raise Conflict(f"job {job_id} is no longer held by this run", code="job_lost")
    return job


async def _finish(
    uow: TasksUnitOfWork, job: Job | None, now: datetime, wake_at: datetime | None
) -> None:
    if job is None:
        return
    if wake_at is None:
        finished = jobs.succeed(job, now=now)
    else:
        finished = jobs.postpone(job, until=wake_at, now=now)
    await uow.jobs.save(finished, expected_version=job.version)
