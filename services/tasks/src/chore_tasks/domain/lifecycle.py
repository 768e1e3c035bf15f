"""The task lifecycle: one transition table, and one function per move.

Every function takes the actor and `now` (no clock, no I/O), checks who may act
(`policies`, 403) before whether the state allows it (`InvalidTransition`, 409), bumps
`version` and returns the new task with the event that records the move.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, TypeVar
from uuid import UUID

from chore_common.errors import Conflict, InvalidInput
from chore_tasks.domain import offers, policies
from chore_tasks.domain.errors import InvalidTransition, OfferNotFound
from chore_tasks.domain.events import (
    TaskAssigned,
    TaskCancelled,
    TaskCompleted,
    TaskCreated,
    TaskDisputed,
    TaskDisputeResolved,
    TaskDone,
    TaskEvent,
    TaskExpired,
    TaskReopened,
    TaskReposted,
    TaskStarted,
)
from chore_tasks.domain.model import (
    DESCRIPTION_MAX,
    TITLE_MAX,
    Action,
    Actor,
    ConfirmedBy,
    Dispute,
    Location,
    Offer,
    OfferAction,
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
        (Status.IN_PROGRESS, Action.COMPLETE): Status.DONE,
        (Status.DONE, Action.CONFIRM): Status.COMPLETED,
        (Status.DONE, Action.AUTO_CONFIRM): Status.COMPLETED,
        (Status.DONE, Action.DISPUTE): Status.DISPUTED,
        (Status.DISPUTED, Action.RESOLVE_COMPLETED): Status.COMPLETED,
        (Status.DISPUTED, Action.RESOLVE_CANCELLED): Status.CANCELLED,
        (Status.OPEN, Action.CANCEL): Status.CANCELLED,
        (Status.ASSIGNED, Action.CANCEL): Status.CANCELLED,
        (Status.OPEN, Action.EXPIRE): Status.EXPIRED,
        (Status.ASSIGNED, Action.WITHDRAW): Status.OPEN,
        (Status.IN_PROGRESS, Action.WITHDRAW): Status.OPEN,
        (Status.ASSIGNED, Action.RELEASE): Status.OPEN,
        (Status.IN_PROGRESS, Action.RELEASE): Status.OPEN,
        (Status.EXPIRED, Action.REPOST): Status.OPEN,
        (Status.OPEN, Action.EDIT): Status.OPEN,
    }
)
REASON_MAX = 500
NOTE_MAX = 500
# An admin's resolution: the outcome asked for -> the action that reaches it.
RESOLUTIONS: Final[Mapping[Status, Action]] = MappingProxyType(
    {Status.COMPLETED: Action.RESOLVE_COMPLETED, Status.CANCELLED: Action.RESOLVE_CANCELLED}
)

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
    # Only an open offer can be accepted (409 for a withdrawn or declined one).
    accepted = offers.move_offer(offer, OfferAction.ACCEPT, now)
    moved = replace(move(task, Action.ASSIGN, now), assignee_id=offer.tasker_id, offer_id=offer.id)
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


def complete(
    task: Task, *, by: Actor, now: datetime, confirm_after: timedelta
) -> tuple[Task, TaskDone]:
    """The assignee marks the work done; it completes by itself `confirm_after` from now
    unless the owner confirms or disputes it first."""
    moved, assignee_id = _by_assignee(task, by, Action.COMPLETE, now)
    event = _event(
        TaskDone, moved, now, assignee_id=assignee_id, auto_confirm_at=now + confirm_after
    )
    return moved, event


def confirm(task: Task, *, by: Actor, now: datetime) -> tuple[Task, TaskCompleted]:
    """The owner accepts the work."""
    return _confirmed(task, by, Action.CONFIRM, ConfirmedBy.OWNER, now)


def auto_confirm(task: Task, *, by: Actor, now: datetime) -> tuple[Task, TaskCompleted]:
    """Nobody objected in time: the scheduler accepts the work for the owner."""
    return _confirmed(task, by, Action.AUTO_CONFIRM, ConfirmedBy.AUTO, now)


def _confirmed(
    task: Task, by: Actor, action: Action, confirmed_by: ConfirmedBy, now: datetime
) -> tuple[Task, TaskCompleted]:
    policies.ensure_can_act(task, by, action)
    moved = move(task, action, now)
    assert moved.assignee_id is not None  # only an assigned task reaches `done`
    event = _event(
        TaskCompleted, moved, now, assignee_id=moved.assignee_id, confirmed_by=confirmed_by.value
    )
    return moved, event


def dispute(
    task: Task,
    *,
    by: Actor,
    reason: str,
    now: datetime,
    dispute_id: UUID,
    confirm_at: datetime | None,
) -> tuple[Task, Dispute, TaskDisputed]:
    """The owner objects to a `done` task, before it auto-confirms at `confirm_at`."""
    policies.ensure_can_act(task, by, Action.DISPUTE)
    moved = move(task, Action.DISPUTE, now)
    policies.ensure_before_auto_confirm(confirm_at, now)
    require_text("reason", reason, max_len=REASON_MAX)
    assert moved.assignee_id is not None  # only an assigned task reaches `done`
    opened = Dispute(
        id=dispute_id,
        task_id=task.id,
        owner_id=task.owner_id,
        assignee_id=moved.assignee_id,
        title=task.title,
        reason=reason,
        created_at=now,
    )
    event = _event(TaskDisputed, moved, now, assignee_id=moved.assignee_id, reason=reason)
    return moved, opened, event


def resolve(
    task: Task, dispute: Dispute | None, *, by: Actor, outcome: Status, note: str, now: datetime
) -> tuple[Task, Dispute, list[TaskEvent]]:
    """An admin settles a dispute: the task ends `outcome` (completed or cancelled)."""
    action = RESOLUTIONS.get(outcome)
    if action is None:
        raise InvalidInput("outcome must be completed or cancelled", code="bad_outcome")
    policies.ensure_can_act(task, by, action)
    moved = move(task, action, now)
    if dispute is None:  # a disputed task always has its dispute row: written by the move
        raise Conflict(f"task {task.id} has no dispute on record", code="no_dispute")
    require_text("note", note, max_len=NOTE_MAX)
    if outcome is Status.CANCELLED:
        moved = replace(moved, cancel_reason=note)
    resolved = replace(dispute, outcome=outcome, note=note, resolved_by=by.user_id, resolved_at=now)
    assignee_id = dispute.assignee_id
    events: list[TaskEvent] = [
        _event(
            TaskDisputeResolved,
            moved,
            now,
            assignee_id=assignee_id,
            outcome=outcome.value,
            note=note,
            resolved_by=by.user_id,
        )
    ]
    if outcome is Status.COMPLETED:
        # Completion's own event too, so whoever follows completions needs no dispute logic.
        admin = ConfirmedBy.ADMIN.value
        events.append(
            _event(TaskCompleted, moved, now, assignee_id=assignee_id, confirmed_by=admin)
        )
    return moved, resolved, events


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


# Who stepped back, as `TaskReopened.by` says it, and what becomes of the accepted offer.
STEP_BACKS: Final[Mapping[Action, tuple[str, OfferAction]]] = MappingProxyType(
    {
        Action.WITHDRAW: ("assignee", OfferAction.STEP_BACK),
        Action.RELEASE: ("owner", OfferAction.RELEASE),
    }
)


def reopen(
    task: Task,
    action: Action,
    *,
    by: Actor,
    reason: str,
    accepted: Offer | None,
    task_offers: list[Offer],
    now: datetime,
) -> tuple[Task, list[Offer], TaskReopened]:
    """The assignee withdraws or the owner releases them: the task is open again, the
    accepted offer retired and the task's declined offers open again. Returns the changed
    offers with the move's event."""
    policies.ensure_can_act(task, by, action)
    require_text("reason", reason, max_len=REASON_MAX)
    who, offer_action = STEP_BACKS[action]
    former = task.assignee_id
    moved = replace(move(task, action, now), assignee_id=None, offer_id=None)
    assert former is not None  # ensure_can_act refused an unassigned task
    changed = offers.reopen_declined(task_offers, now=now)
    if accepted is not None and accepted.status is OfferStatus.ACCEPTED:
        changed.insert(0, offers.move_offer(accepted, offer_action, now))
    event = _event(
        TaskReopened,
        moved,
        now,
        by=who,
        reason=reason,
        former_assignee_id=former,
        reopened_offer_tasker_ids=tuple(
            o.tasker_id for o in changed if o.status is OfferStatus.OPEN
        ),
    )
    return moved, changed, event


def repost(task: Task, *, by: Actor, due_at: datetime, now: datetime) -> tuple[Task, TaskReposted]:
    """An expired task back on the market with a new due time."""
    policies.ensure_can_act(task, by, Action.REPOST)
    require_aware("due_at", due_at)
    moved = move(task, Action.REPOST, now)
    if due_at <= now:
        raise InvalidInput("due_at must be in the future", code="due_in_past")
    moved = replace(moved, due_at=due_at)
    return moved, _event(TaskReposted, moved, now, due_at=due_at)


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


# `edits.py` words its event the same way as every move here.
task_event = _event
