"""Domain event -> the versioned contract it is published as (`chore_common.contracts.tasks`).

The one place the domain's facts become the published language; adding a domain event
without a mapper here fails `test_every_domain_event_maps_to_its_contract`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chore_common.contracts.registry import Contract
from chore_common.contracts.tasks import (
    OfferCreatedV1,
    ReviewCreatedV1,
    TaskAssignedV1,
    TaskCancelledV1,
    TaskCompletedV1,
    TaskCreatedV1,
    TaskExpiredV1,
    TaskReminderDueV1,
    TaskStartedV1,
)
from chore_tasks.domain.events import (
    DomainEvent,
    OfferCreated,
    ReminderDue,
    ReviewCreated,
    TaskAssigned,
    TaskCancelled,
    TaskCompleted,
    TaskCreated,
    TaskExpired,
    TaskStarted,
)


def contract_of(event: DomainEvent) -> Contract:
    mapper = _MAPPERS.get(type(event))
    if mapper is None:
        raise TypeError(f"no contract for {type(event).__name__}")
    return mapper(event)


def _task_created(event: TaskCreated) -> Contract:
    return TaskCreatedV1(
        task_id=event.task_id,
        owner_id=event.owner_id,
        title=event.title,
        category=event.category,
        budget_cents=event.budget_cents,
        due_at=event.due_at,
        version=event.version,
        created_at=event.occurred_at,
    )


def _offer_created(event: OfferCreated) -> Contract:
    return OfferCreatedV1(
        offer_id=event.offer_id,
        task_id=event.task_id,
        owner_id=event.owner_id,
        tasker_id=event.tasker_id,
        title=event.title,
        price_cents=event.price_cents,
        message=event.message,
        created_at=event.occurred_at,
    )


def _task_assigned(event: TaskAssigned) -> Contract:
    return TaskAssignedV1(
        task_id=event.task_id,
        owner_id=event.owner_id,
        assignee_id=event.assignee_id,
        offer_id=event.offer_id,
        title=event.title,
        price_cents=event.price_cents,
        version=event.version,
        assigned_at=event.occurred_at,
    )


def _task_started(event: TaskStarted) -> Contract:
    return TaskStartedV1(
        task_id=event.task_id,
        owner_id=event.owner_id,
        assignee_id=event.assignee_id,
        title=event.title,
        version=event.version,
        started_at=event.occurred_at,
    )


def _task_completed(event: TaskCompleted) -> Contract:
    return TaskCompletedV1(
        task_id=event.task_id,
        owner_id=event.owner_id,
        assignee_id=event.assignee_id,
        title=event.title,
        version=event.version,
        completed_at=event.occurred_at,
    )


def _task_cancelled(event: TaskCancelled) -> Contract:
    return TaskCancelledV1(
        task_id=event.task_id,
        owner_id=event.owner_id,
        assignee_id=event.assignee_id,
        title=event.title,
        reason=event.reason,
        version=event.version,
        cancelled_at=event.occurred_at,
    )


def _task_expired(event: TaskExpired) -> Contract:
    return TaskExpiredV1(
        task_id=event.task_id,
        owner_id=event.owner_id,
        title=event.title,
        version=event.version,
        expired_at=event.occurred_at,
    )


def _review_created(event: ReviewCreated) -> Contract:
    # The contract names the review's two sides by their roles in the task.
    return ReviewCreatedV1(
        review_id=event.review_id,
        task_id=event.task_id,
        owner_id=event.author_id,
        tasker_id=event.subject_id,
        rating=event.rating,
        comment=event.comment,
        created_at=event.occurred_at,
    )


def _reminder_due(event: ReminderDue) -> Contract:
    return TaskReminderDueV1(
        task_id=event.task_id,
        owner_id=event.owner_id,
        assignee_id=event.assignee_id,
        title=event.title,
        due_at=event.due_at,
    )


# By exact class: events are final dataclasses, and one dict lookup replaces a chain of
# isinstance checks on every write.
_MAPPERS: dict[type[DomainEvent], Callable[[Any], Contract]] = {
    TaskCreated: _task_created,
    OfferCreated: _offer_created,
    TaskAssigned: _task_assigned,
    TaskStarted: _task_started,
    TaskCompleted: _task_completed,
    TaskCancelled: _task_cancelled,
    TaskExpired: _task_expired,
    ReviewCreated: _review_created,
    ReminderDue: _reminder_due,
}
