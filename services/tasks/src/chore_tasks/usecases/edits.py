"""The owner's edit of an open task, and the edit history of a task with offers."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from chore_common.paging import Page
from chore_tasks.domain import edits, policies
from chore_tasks.domain.edits import TaskEdit
from chore_tasks.domain.jobs import RetryPolicy
from chore_tasks.domain.model import Action, OfferStatus, Task
from chore_tasks.usecases.access import check_if_match, check_limit, save_task, visible_task
from chore_tasks.usecases.commands import EditTask, TaskHistory
from chore_tasks.usecases.ports import TasksUnitOfWork
from chore_tasks.usecases.reopen import DEFAULT_RETRY, reschedule_expiry


async def edit_task(
    uow: TasksUnitOfWork, cmd: EditTask, now: datetime, *, retry: RetryPolicy = DEFAULT_RETRY
) -> Task:
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        policies.ensure_can_act(task, cmd.actor, Action.EDIT)
        check_if_match(task, cmd.if_match)
        offers = await uow.offers.of_task(task.id)
        offerers = (o.tasker_id for o in offers if o.status is OfferStatus.OPEN)
        moved, event, entry = edits.edit(
            task,
            cmd.fields,
            by=cmd.actor,
            edit_id=uuid4(),
            offerer_ids=tuple(dict.fromkeys(offerers)),
            has_offers=bool(offers),
            now=now,
        )
        await save_task(uow, moved, loaded=task, if_match=cmd.if_match)
        if entry is not None:
            await uow.edits.add(entry)
        if "due_at" in event.changes:
            await reschedule_expiry(uow, moved, now, retry)
        uow.record(event)
        await uow.commit()
    return moved


async def task_history(uow: TasksUnitOfWork, cmd: TaskHistory, now: datetime) -> Page[TaskEdit]:
    check_limit(cmd.limit)
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        has_offered = await uow.offers.exists(task.id, cmd.actor.user_id)
        policies.ensure_can_see_history(task, cmd.actor, has_offered=has_offered)
        return await uow.edits.list(task.id, limit=cmd.limit, after=cmd.after)
