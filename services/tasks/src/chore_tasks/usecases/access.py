"""Loading and saving a task the way every use case must: visible first, then preconditions.

Order matters: 404 (the actor may not know it exists), then the domain's 403, then 412 on
a stale `If-Match`, then 409, so a stranger learns neither state nor version.
"""

from __future__ import annotations

from uuid import UUID

from chore_common.errors import InvalidInput, PreconditionFailed
from chore_tasks.domain import policies
from chore_tasks.domain.errors import OfferNotFound, StaleVersion, TaskNotFound
from chore_tasks.domain.model import Actor, Offer, Task
from chore_tasks.domain.people import PersonStatus
from chore_tasks.usecases.ports import TasksUnitOfWork

MAX_LIMIT = 100


async def visible_task(uow: TasksUnitOfWork, task_id: UUID, actor: Actor) -> Task:
    task = await uow.tasks.get(task_id)
    if task is None:
        raise TaskNotFound(f"no task {task_id}")
    # Only a tasker locked out of a private task costs the extra query.
    has_offered = policies.needs_offer_lookup(task, actor) and await uow.offers.exists(
        task.id, actor.user_id
    )
    policies.ensure_visible(
        task, actor, has_offered=has_offered, owner_status=await owner_status(uow, task, actor)
    )
    return task


async def owner_status(uow: TasksUnitOfWork, task: Task, actor: Actor) -> PersonStatus:
    """The task's owner's account status, when the actor's view of the task hangs on it."""
    if not policies.needs_owner_status(task, actor):
        return PersonStatus.ACTIVE
    return await uow.people.status(task.owner_id)


def check_if_match(task: Task, if_match: int | None) -> None:
    if if_match is not None and if_match != task.version:
        raise PreconditionFailed(
            f"the task is at version {task.version}, not {if_match}", code="version_mismatch"
        )


async def save_task(
    uow: TasksUnitOfWork, moved: Task, *, loaded: Task, if_match: int | None
) -> None:
    """Save against the version we loaded; a concurrent writer's win is 412 to an If-Match
    caller (their precondition no longer holds) and 409 `concurrent_update` otherwise."""
    try:
        await uow.tasks.save(moved, expected_version=loaded.version)
    except StaleVersion:
        if if_match is not None:
            raise PreconditionFailed(
                "the task changed while this request ran", code="version_mismatch"
            ) from None
        raise


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be 1..{MAX_LIMIT}", code="bad_limit")


def check_offer_if_match(offer: Offer, if_match: int | None) -> None:
    if if_match is not None and if_match != offer.version:
        raise PreconditionFailed(
            f"the offer is at version {offer.version}, not {if_match}", code="version_mismatch"
        )


async def task_offer(uow: TasksUnitOfWork, task: Task, offer_id: UUID) -> Offer:
    """The offer `offer_id` of `task`; 404 when it is another task's or none at all."""
    offer = await uow.offers.get(offer_id)
    if offer is None or offer.task_id != task.id:
        raise OfferNotFound(f"no offer {offer_id} on task {task.id}")
    return offer


async def save_offer(
    uow: TasksUnitOfWork, moved: Offer, *, loaded: Offer, if_match: int | None
) -> None:
    """Like `save_task`, for an offer."""
    try:
        await uow.offers.save(moved, expected_version=loaded.version)
    except StaleVersion:
        if if_match is not None:
            raise PreconditionFailed(
                "the offer changed while this request ran", code="version_mismatch"
            ) from None
        raise


async def save_moved_offer(uow: TasksUnitOfWork, moved: Offer) -> None:
    """Save an offer one table move changed (`offers.move_offer` bumps the version by one)."""
    await uow.offers.save(moved, expected_version=moved.version - 1)
