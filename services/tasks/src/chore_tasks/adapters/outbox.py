"""Domain event -> the versioned contract it is published as (`chore_common.contracts.tasks`).

The one place the domain's facts become the published language; adding a domain event
without a line here fails `test_every_domain_event_maps_to_its_contract`.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from chore_common.contracts.envelope import Envelope
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
from chore_common.outbox.record import Outbox
from chore_tasks.domain.events import (
    DomainEvent,
    OfferCreated,
    ReminderDue,
    ReviewCreated,
    TaskAssigned,
    TaskCancelled,
    TaskCompleted,
    TaskCreated,
    TaskEvent,
    TaskExpired,
    TaskStarted,
)


def contract_of(event: DomainEvent) -> Contract:
    match event:
        case TaskCreated():
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
        case OfferCreated():
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
        case TaskAssigned():
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
        case TaskStarted():
            return TaskStartedV1(
                task_id=event.task_id,
                owner_id=event.owner_id,
                assignee_id=event.assignee_id,
                title=event.title,
                version=event.version,
                started_at=event.occurred_at,
            )
        case TaskCompleted():
            return TaskCompletedV1(
                task_id=event.task_id,
                owner_id=event.owner_id,
                assignee_id=event.assignee_id,
                title=event.title,
                version=event.version,
                completed_at=event.occurred_at,
            )
        case TaskCancelled():
            return TaskCancelledV1(
                task_id=event.task_id,
                owner_id=event.owner_id,
                assignee_id=event.assignee_id,
                title=event.title,
                reason=event.reason,
                version=event.version,
                cancelled_at=event.occurred_at,
            )
        case TaskExpired():
            return TaskExpiredV1(
                task_id=event.task_id,
                owner_id=event.owner_id,
                title=event.title,
                version=event.version,
                expired_at=event.occurred_at,
            )
        case ReviewCreated():
            return ReviewCreatedV1(
                review_id=event.review_id,
                task_id=event.task_id,
                owner_id=event.author_id,
                tasker_id=event.subject_id,
                rating=event.rating,
                comment=event.comment,
                created_at=event.occurred_at,
            )
        case ReminderDue():
            return TaskReminderDueV1(
                task_id=event.task_id,
                owner_id=event.owner_id,
                assignee_id=event.assignee_id,
                title=event.title,
                due_at=event.due_at,
            )
    raise TypeError(f"no contract for {type(event).__name__}")


class TasksOutbox(Outbox):
    """The common outbox, taking the tasks domain's events as well as ready contracts.

    Remembers which tasks changed (and to which version) so the unit of work can tell the
    read caches once the transaction has committed.
    """

    def __init__(self, conn: AsyncConnection, producer: str) -> None:
        super().__init__(conn, producer)
        self.changed: list[tuple[UUID, int]] = []

    def add(self, event: Contract | DomainEvent) -> Envelope:
        if isinstance(event, TaskEvent):
            self.changed.append((event.task_id, event.version))
        if isinstance(event, DomainEvent):
            event = contract_of(event)
        return super().add(event)
