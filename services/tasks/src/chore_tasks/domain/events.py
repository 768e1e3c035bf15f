"""What happened to tasks, offers and reviews, in past tense.

Plain facts with no envelope: `adapters/contracts.py` maps each class to its versioned contract
(`tasks.task.assigned` v1, ...) and gives it an event id. Task events carry the task's new
`version` so a replica's read cache can drop anything older.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainEvent:
    occurred_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskEvent(DomainEvent):
    task_id: UUID
    owner_id: UUID
    # Consumers word notifications with it and never have to ask us.
    title: str
    version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCreated(TaskEvent):
    category: str
    budget_cents: int
    currency: str
    due_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferCreated(DomainEvent):
    offer_id: UUID
    task_id: UUID
    # Messaging opens the owner-tasker conversation from this event alone.
    owner_id: UUID
    tasker_id: UUID
    title: str
    price_cents: int
    currency: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferUpdated(DomainEvent):
    offer_id: UUID
    task_id: UUID
    owner_id: UUID
    tasker_id: UUID
    title: str
    price_cents: int
    message: str
    version: int  # the offer's


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferWithdrawn(DomainEvent):
    offer_id: UUID
    task_id: UUID
    owner_id: UUID
    tasker_id: UUID
    title: str
    version: int  # the offer's


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferDeclined(DomainEvent):
    """Another offer on the task was accepted: one per declined offer."""

    offer_id: UUID
    task_id: UUID
    tasker_id: UUID
    owner_id: UUID
    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskAssigned(TaskEvent):
    assignee_id: UUID
    offer_id: UUID
    price_cents: int
    currency: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskStarted(TaskEvent):
    assignee_id: UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDone(TaskEvent):
    """The assignee says the work is done; the owner confirms or disputes it."""

    assignee_id: UUID
    auto_confirm_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCompleted(TaskEvent):
    assignee_id: UUID
    # A `ConfirmedBy` value: the owner, the scheduler (auto-confirm) or an admin (dispute).
    confirmed_by: str = "owner"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDisputed(TaskEvent):
    assignee_id: UUID
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDisputeResolved(TaskEvent):
    assignee_id: UUID
    outcome: str  # the status the task ended in: completed or cancelled
    note: str
    resolved_by: UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCancelled(TaskEvent):
    assignee_id: UUID | None
    reason: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskExpired(TaskEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskReopened(TaskEvent):
    """The assignee withdrew (`by` "assignee") or the owner released them (`by` "owner")."""

    by: str
    reason: str
    former_assignee_id: UUID
    # Taskers whose declined offers stand again: messaging tells them.
    reopened_offer_tasker_ids: tuple[UUID, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskReposted(TaskEvent):
    due_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskEdited(TaskEvent):
    # Field name -> its new value, as JSON would carry it (datetimes as ISO strings).
    changes: dict[str, object]
    # Taskers with an open offer on the task: messaging tells each of them.
    offerer_ids: tuple[UUID, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewCreated(DomainEvent):
    review_id: UUID
    task_id: UUID
    # The task's two sides, whoever wrote: the contract's names mean these.
    owner_id: UUID
    tasker_id: UUID
    author_id: UUID
    subject_id: UUID
    rating: int
    comment: str
    reveal_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewPublished(DomainEvent):
    """A review became visible (`occurred_at`): both sides wrote, or the blind period ended."""

    review_id: UUID
    task_id: UUID
    title: str
    author_id: UUID
    subject_id: UUID
    rating: int
    comment: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderDue(DomainEvent):
    task_id: UUID
    owner_id: UUID
    assignee_id: UUID
    title: str
    due_at: datetime
