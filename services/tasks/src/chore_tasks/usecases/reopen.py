"""Putting a task back on the market: the assignee withdraws or the owner releases them
(assigned|in_progress -> open), or the owner reposts an expired task (expired -> open)."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from chore_tasks.domain import jobs, lifecycle, policies
from chore_tasks.domain.jobs import JobKind, JobStatus, RetryPolicy
from chore_tasks.domain.model import Action, OfferStatus, Task
from chore_tasks.usecases.access import (
    check_if_match,
    save_moved_offer,
    save_task,
    visible_task,
)
from chore_tasks.usecases.commands import ReopenTask, RepostTask
from chore_tasks.usecases.ports import JobFilter, TasksUnitOfWork

DEFAULT_RETRY = RetryPolicy()


async def reopen_task(
    uow: TasksUnitOfWork, cmd: ReopenTask, now: datetime, *, retry: RetryPolicy = DEFAULT_RETRY
) -> Task:
    """Withdraw (assignee) or release (owner): `cmd.action` says which."""
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        policies.ensure_can_act(task, cmd.actor, cmd.action)
        check_if_match(task, cmd.if_match)
        accepted = await uow.offers.get(task.offer_id) if task.offer_id else None
        declined = await uow.offers.of_task(task.id, OfferStatus.DECLINED)
        moved, changed, event = lifecycle.reopen(
            task,
            cmd.action,
            by=cmd.actor,
            reason=cmd.reason,
            accepted=accepted,
            task_offers=declined,
            now=now,
        )
        await save_task(uow, moved, loaded=task, if_match=cmd.if_match)
        for offer in changed:
            await save_moved_offer(uow, offer)
        # The former assignee is reminded of nothing; an open task expires at its due time.
        await drop_queued(uow, moved, JobKind.REMIND_ASSIGNEE)
        await reschedule_expiry(uow, moved, now, retry)
        uow.record(event)
        await uow.commit()
    return moved


async def repost_task(
    uow: TasksUnitOfWork, cmd: RepostTask, now: datetime, *, retry: RetryPolicy = DEFAULT_RETRY
) -> Task:
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        policies.ensure_can_act(task, cmd.actor, Action.REPOST)
        check_if_match(task, cmd.if_match)
        moved, event = lifecycle.repost(task, by=cmd.actor, due_at=cmd.due_at, now=now)
        await save_task(uow, moved, loaded=task, if_match=cmd.if_match)
        await reschedule_expiry(uow, moved, now, retry)
        uow.record(event)
        await uow.commit()
    return moved


async def drop_queued(uow: TasksUnitOfWork, task: Task, kind: JobKind) -> None:
    """Delete the task's queued jobs of `kind` (a running one finds the task moved on)."""
    query = JobFilter(status=JobStatus.QUEUED, kind=kind, task_id=task.id, limit=100)
    for job in (await uow.jobs.list(query)).items:
        await uow.jobs.delete(job.id)


async def reschedule_expiry(
    uow: TasksUnitOfWork, task: Task, now: datetime, retry: RetryPolicy
) -> None:
    """One queued expiry job, at the task's current due time (none without one)."""
    await drop_queued(uow, task, JobKind.EXPIRE_TASK)
    expiry = jobs.expiry_job(task, job_id=uuid4(), now=now, policy=retry)
    if expiry is not None:
        await uow.jobs.add(expiry)
