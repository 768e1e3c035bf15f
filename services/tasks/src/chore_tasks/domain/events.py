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
class TaskAssigned(TaskEvent):
    assignee_id: UUID
    offer_id: UUID
    price_cents: int
    currency: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskStarted(TaskEvent):
    assignee_id: UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCompleted(TaskEvent):
    assignee_id: UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCancelled(TaskEvent):
    assignee_id: UUID | None
    reason: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskExpired(TaskEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewCreated(DomainEvent):
    review_id: UUID
    task_id: UUID
    author_id: UUID
    subject_id: UUID
    rating: int
    comment: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderDue(DomainEvent):
    task_id: UUID
    owner_id: UUID
    assignee_id: UUID
    title: str
    due_at: datetime
