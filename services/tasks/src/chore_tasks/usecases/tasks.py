"""Task commands and queries: post, read, browse, and the owner's and assignee's moves."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import uuid4

from chore_common.errors import InvalidInput
from chore_tasks.domain import jobs, lifecycle, policies, search
from chore_tasks.domain.errors import OfferNotFound
from chore_tasks.domain.jobs import RetryPolicy
from chore_tasks.domain.model import Action, Task
from chore_tasks.domain.people import PersonStatus
from chore_tasks.usecases.access import check_if_match, check_limit, save_task, visible_task
from chore_tasks.usecases.commands import (
    AssignTask,
    BrowseTasks,
    CancelTask,
    CompleteTask,
    CreateTask,
    GetTask,
    StartTask,
)
from chore_tasks.usecases.offers import decline_other_offers
from chore_tasks.usecases.ports import (
    NewTasks,
    SearchPage,
    TaskFilter,
    TaskReadCache,
    TasksUnitOfWork,
)

DEFAULT_RETRY = RetryPolicy()
DEFAULT_CONFIRM_AFTER = timedelta(hours=72)  # TASKS_AUTO_CONFIRM_H


async def create_task(
    new_tasks: NewTasks, cmd: CreateTask, now: datetime, *, retry: RetryPolicy = DEFAULT_RETRY
) -> Task:
    task, event = lifecycle.create(
        task_id=uuid4(),
        by=cmd.actor,
        title=cmd.title,
        description=cmd.description,
        category=cmd.category,
        budget_cents=cmd.budget_cents,
        currency=cmd.currency,
        due_at=cmd.due_at,
        location=cmd.location,
        now=now,
    )
    expiry = jobs.expiry_job(task, job_id=uuid4(), now=now, policy=retry)
    await new_tasks.add(task, expiry, event)
    return task


async def get_task(
    uow: TasksUnitOfWork, cmd: GetTask, now: datetime, *, cache: TaskReadCache | None = None
) -> Task:
    """One task the actor may see; from `cache` when it holds it and no query is needed (nor
    one of the owner's status beyond the first: the cache keeps that too)."""
    task = cache.get(cmd.task_id) if cache is not None else None
    if cache is not None and task is not None and not policies.needs_offer_lookup(task, cmd.actor):
        status = PersonStatus.ACTIVE
        if policies.needs_owner_status(task, cmd.actor):
            status = await _cached_owner_status(uow, cache, task)
        policies.ensure_visible(task, cmd.actor, owner_status=status)
        return task
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
    if cache is not None:
        cache.put(task)
    return task


async def _cached_owner_status(
    uow: TasksUnitOfWork, cache: TaskReadCache, task: Task
) -> PersonStatus:
    """The owner's account status from `cache`, else from the database (then cached)."""
    status = cache.person_status(task.owner_id)
    if status is None:
        generation = cache.people_generation()
        async with uow:
            status = await uow.people.status(task.owner_id)
        cache.put_person_status(task.owner_id, status, generation)
    return status


async def browse_tasks(uow: TasksUnitOfWork, cmd: BrowseTasks, now: datetime) -> SearchPage:
    check_limit(cmd.limit)
    words = search.query_terms(cmd.q)
    budget, due = (cmd.budget_min, cmd.budget_max), (cmd.due_after, cmd.due_before)
    search.check_search(sort=cmd.sort, near=cmd.near, words=words, budget=budget, due=due)
    if cmd.after is not None and cmd.after.sort is not cmd.sort:
        raise InvalidInput("The cursor is not one this service issued.", code="invalid_cursor")
    query = TaskFilter(
        viewer=cmd.actor,
        status=cmd.status,
        categories=cmd.categories,
        words=words,
        owner_id=cmd.actor.user_id if cmd.owner_me else None,
        assignee_id=cmd.actor.user_id if cmd.assignee_me else None,
        budget_min=cmd.budget_min,
        budget_max=cmd.budget_max,
        due_after=cmd.due_after,
        due_before=cmd.due_before,
        near=cmd.near,
        sort=cmd.sort,
        limit=cmd.limit,
        after=cmd.after,
    )
    async with uow:
        return await uow.tasks.browse(query)


async def assign_task(
    uow: TasksUnitOfWork, cmd: AssignTask, now: datetime, *, retry: RetryPolicy = DEFAULT_RETRY
) -> Task:
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        policies.ensure_can_act(task, cmd.actor, Action.ASSIGN)
        check_if_match(task, cmd.if_match)
        offer = await uow.offers.get(cmd.offer_id)
        if offer is None:
            raise OfferNotFound(f"no offer {cmd.offer_id} on task {task.id}")
        moved, accepted, event = lifecycle.assign(task, offer, by=cmd.actor, now=now)
        await save_task(uow, moved, loaded=task, if_match=cmd.if_match)
        await uow.offers.save(accepted, expected_version=offer.version)
        uow.record(event)
        await decline_other_offers(uow, moved, accepted, now)
        reminder = jobs.reminder_job(moved, job_id=uuid4(), now=now, policy=retry)
        if reminder is not None:
            await uow.jobs.add(reminder)
        await uow.commit()
    return moved


async def start_task(uow: TasksUnitOfWork, cmd: StartTask, now: datetime) -> Task:
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        policies.ensure_can_act(task, cmd.actor, Action.START)
        check_if_match(task, cmd.if_match)
        moved, event = lifecycle.start(task, by=cmd.actor, now=now)
        await save_task(uow, moved, loaded=task, if_match=cmd.if_match)
        uow.record(event)
        await uow.commit()
    return moved


async def complete_task(
    uow: TasksUnitOfWork,
    cmd: CompleteTask,
    now: datetime,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    confirm_after: timedelta = DEFAULT_CONFIRM_AFTER,
) -> Task:
    """The assignee marks the task done; its auto-confirm is scheduled in the same
    transaction, so a `done` task always has one."""
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        policies.ensure_can_act(task, cmd.actor, Action.COMPLETE)
        check_if_match(task, cmd.if_match)
        moved, event = lifecycle.complete(task, by=cmd.actor, now=now, confirm_after=confirm_after)
        await save_task(uow, moved, loaded=task, if_match=cmd.if_match)
        await uow.jobs.add(
            jobs.auto_confirm_job(moved, job_id=uuid4(), now=now, policy=retry, after=confirm_after)
        )
        uow.record(event)
        await uow.commit()
    return moved


async def cancel_task(uow: TasksUnitOfWork, cmd: CancelTask, now: datetime) -> Task:
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        policies.ensure_can_act(task, cmd.actor, Action.CANCEL)
        check_if_match(task, cmd.if_match)
        moved, event = lifecycle.cancel(task, by=cmd.actor, now=now, reason=cmd.reason)
        await save_task(uow, moved, loaded=task, if_match=cmd.if_match)
        uow.record(event)
        await uow.commit()
    return moved
