"""The task lifecycle: one transition table, and one function per move.

Every function takes the actor and `now` (no clock, no I/O), checks who may act
(`policies`, 403) before whether the state allows it (`InvalidTransition`, 409), bumps
`version` and returns the new task with the event that records the move.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, TypeVar
from uuid import UUID

from chore_common.errors import InvalidInput
from chore_tasks.domain import policies
from chore_tasks.domain.errors import InvalidTransition, OfferNotFound
from chore_tasks.domain.events import (
    TaskAssigned,
    TaskCancelled,
    TaskCompleted,
    TaskCreated,
    TaskEvent,
    TaskExpired,
    TaskStarted,
)
from chore_tasks.domain.model import (
    DESCRIPTION_MAX,
    TITLE_MAX,
    Action,
    Actor,
    Location,
    Offer,
    OfferStatus,
    Status,
    Task,
    require_aware,
    require_cents,
    require_location,
    require_text,
)
from chore_tasks.domain.money import require_currency

MOVES: Final[Mapping[tuple[Status, Action], Status]] = MappingProxyType(
    {
        (Status.OPEN, Action.ASSIGN): Status.ASSIGNED,
        (Status.ASSIGNED, Action.START): Status.IN_PROGRESS,
        (Status.IN_PROGRESS, Action.COMPLETE): Status.COMPLETED,
        (Status.OPEN, Action.CANCEL): Status.CANCELLED,
        (Status.ASSIGNED, Action.CANCEL): Status.CANCELLED,
        (Status.OPEN, Action.EXPIRE): Status.EXPIRED,
    }
)
REASON_MAX = 500

E = TypeVar("E", bound=TaskEvent)


def next_status(status: Status, action: Action) -> Status:
    try:
        return MOVES[status, action]
    except KeyError:
        raise InvalidTransition(status, action) from None


def move(task: Task, action: Action, now: datetime) -> Task:
    """Apply one table move; the only place a task's status or version changes."""
    status = next_status(task.status, action)
    return replace(task, status=status, version=task.version + 1, updated_at=now)


def create(
    *,
    task_id: UUID,
    by: Actor,
    title: str,
    description: str,
    category: str,
    budget_cents: int,
    currency: str,
    due_at: datetime | None,
    location: Location | None,
    now: datetime,
) -> tuple[Task, TaskCreated]:
    policies.ensure_can_create_task(by)
    require_text("title", title, max_len=TITLE_MAX)
    require_text("description", description, max_len=DESCRIPTION_MAX, allow_empty=True)
    require_text("category", category, max_len=64)
    require_cents("budget_cents", budget_cents)
    require_currency(currency)
    require_location(location)
    require_aware("due_at", due_at)
    if due_at is not None and due_at <= now:
        raise InvalidInput("due_at must be in the future", code="due_in_past")
    task = Task(
        id=task_id,
        owner_id=by.user_id,
        title=title,
        description=description,
        category=category,
        budget_cents=budget_cents,
        currency=currency,
        due_at=due_at,
        location=location,
        status=Status.OPEN,
        assignee_id=None,
        offer_id=None,
        cancel_reason=None,
        version=1,
        created_at=now,
        updated_at=now,
    )
    event = TaskCreated(
        occurred_at=now,
        task_id=task.id,
        owner_id=task.owner_id,
        version=task.version,
        title=title,
        category=category,
        budget_cents=budget_cents,
        currency=currency,
        due_at=due_at,
    )
    return task, event


def assign(
    task: Task, offer: Offer, *, by: Actor, now: datetime
) -> tuple[Task, Offer, TaskAssigned]:
    policies.ensure_can_act(task, by, Action.ASSIGN)
    if offer.task_id != task.id:
        raise OfferNotFound(f"no offer {offer.id} on task {task.id}")
    moved = replace(move(task, Action.ASSIGN, now), assignee_id=offer.tasker_id, offer_id=offer.id)
    accepted = replace(offer, status=OfferStatus.ACCEPTED)
    event = _event(
        TaskAssigned,
        moved,
        now,
        assignee_id=offer.tasker_id,
        offer_id=offer.id,
        price_cents=offer.price_cents,
        currency=offer.currency,
    )
    return moved, accepted, event


def start(task: Task, *, by: Actor, now: datetime) -> tuple[Task, TaskStarted]:
    moved, assignee_id = _by_assignee(task, by, Action.START, now)
    return moved, _event(TaskStarted, moved, now, assignee_id=assignee_id)


def complete(task: Task, *, by: Actor, now: datetime) -> tuple[Task, TaskCompleted]:
    moved, assignee_id = _by_assignee(task, by, Action.COMPLETE, now)
    return moved, _event(TaskCompleted, moved, now, assignee_id=assignee_id)


def _by_assignee(task: Task, by: Actor, action: Action, now: datetime) -> tuple[Task, UUID]:
    policies.ensure_can_act(task, by, action)
    moved = move(task, action, now)
    assert moved.assignee_id is not None  # ensure_can_act refused an unassigned task
    return moved, moved.assignee_id


def cancel(
    task: Task, *, by: Actor, now: datetime, reason: str | None = None
) -> tuple[Task, TaskCancelled]:
    policies.ensure_can_act(task, by, Action.CANCEL)
    if reason is not None:
        require_text("reason", reason, max_len=REASON_MAX, allow_empty=True)
    moved = replace(move(task, Action.CANCEL, now), cancel_reason=reason)
    return moved, _event(TaskCancelled, moved, now, assignee_id=moved.assignee_id, reason=reason)


def expire(task: Task, *, by: Actor, now: datetime) -> tuple[Task, TaskExpired]:
    policies.ensure_can_act(task, by, Action.EXPIRE)
    moved = move(task, Action.EXPIRE, now)
    return moved, _event(TaskExpired, moved, now)


def _event(kind: type[E], moved: Task, now: datetime, **fields: Any) -> E:
    """The event of a move: the moved task's id, owner, title and new version, plus `fields`."""
    return kind(
        occurred_at=now,
        task_id=moved.id,
        owner_id=moved.owner_id,
        title=moved.title,
        version=moved.version,
        **fields,
    )


def is_due(task: Task, now: datetime) -> bool:
    return task.due_at is not None and task.due_at <= now
