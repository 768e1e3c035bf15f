"""After the work: the owner confirms or disputes a `done` task; an admin resolves disputes.

The pending auto-confirm job goes in the same transaction as the move that makes it moot,
so a confirmed or disputed task is never confirmed again by the scheduler (and a job that
was already running finds the task moved on and ends quietly).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from chore_common.paging import Page
from chore_tasks.domain import lifecycle, policies
from chore_tasks.domain.jobs import Job, JobKind, JobStatus
from chore_tasks.domain.model import Action, Dispute, Task
from chore_tasks.usecases.access import check_if_match, check_limit, save_task, visible_task
from chore_tasks.usecases.commands import ConfirmTask, DisputeTask, ListDisputes, ResolveDispute
from chore_tasks.usecases.ports import DisputeFilter, JobFilter, TasksUnitOfWork


async def confirm_task(uow: TasksUnitOfWork, cmd: ConfirmTask, now: datetime) -> Task:
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        policies.ensure_can_act(task, cmd.actor, Action.CONFIRM)
        check_if_match(task, cmd.if_match)
        moved, event = lifecycle.confirm(task, by=cmd.actor, now=now)
        await save_task(uow, moved, loaded=task, if_match=cmd.if_match)
        await _drop_if_queued(uow, await _auto_confirm_of(uow, task.id))
        uow.record(event)
        await uow.commit()
    return moved


async def dispute_task(uow: TasksUnitOfWork, cmd: DisputeTask, now: datetime) -> Task:
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        policies.ensure_can_act(task, cmd.actor, Action.DISPUTE)
        check_if_match(task, cmd.if_match)
        pending = await _auto_confirm_of(uow, task.id)
        moved, dispute, event = lifecycle.dispute(
            task,
            by=cmd.actor,
            reason=cmd.reason,
            now=now,
            dispute_id=uuid4(),
            confirm_at=pending.run_at if pending is not None else None,
        )
        await save_task(uow, moved, loaded=task, if_match=cmd.if_match)
        await _drop_if_queued(uow, pending)
        await uow.disputes.add(dispute)
        uow.record(event)
        await uow.commit()
    return moved


async def resolve_dispute(uow: TasksUnitOfWork, cmd: ResolveDispute, now: datetime) -> Task:
    policies.ensure_admin(cmd.actor)
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        check_if_match(task, cmd.if_match)
        dispute = await uow.disputes.for_task(task.id)
        moved, resolved, events = lifecycle.resolve(
            task, dispute, by=cmd.actor, outcome=cmd.outcome, note=cmd.note, now=now
        )
        await save_task(uow, moved, loaded=task, if_match=cmd.if_match)
        await uow.disputes.save(resolved)
        for event in events:
            uow.record(event)
        await uow.commit()
    return moved


async def list_disputes(uow: TasksUnitOfWork, cmd: ListDisputes, now: datetime) -> Page[Dispute]:
    policies.ensure_admin(cmd.actor)
    check_limit(cmd.limit)
    query = DisputeFilter(resolved=cmd.resolved, limit=cmd.limit, after=cmd.after)
    async with uow:
        return await uow.disputes.list(query)


async def _auto_confirm_of(uow: TasksUnitOfWork, task_id: UUID) -> Job | None:
    """The task's auto-confirm job while it is still to run (queued, or running right now)."""
    query = JobFilter(task_id=task_id, kind=JobKind.AUTO_CONFIRM, limit=10)
    found = (await uow.jobs.list(query)).items
    return next((j for j in found if j.status in (JobStatus.QUEUED, JobStatus.RUNNING)), None)


async def _drop_if_queued(uow: TasksUnitOfWork, job: Job | None) -> None:
    """Drop a queued auto-confirm the move made moot. A running one is left alone: it finds
    the task moved on and ends quietly, or it won and this move fails on the version."""
    if job is not None and job.status is JobStatus.QUEUED:
        await uow.jobs.delete(job.id)
