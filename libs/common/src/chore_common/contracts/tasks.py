"""Events the tasks service publishes (stream TASKS, subjects `tasks.>`).

Each carries what messaging needs to keep its own view (owners, taskers, assignments,
cancellations) and to word a notification (`title`), so it never calls the tasks service.
`version` is the task's version after the change: a consumer can drop stale updates.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from chore_common.contracts.registry import Contract, register


@register
class TaskCreatedV1(Contract):
    TYPE: ClassVar = "tasks.task.created"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    title: str
    category: str
    budget_cents: int = Field(ge=0)
    due_at: AwareDatetime | None = None
    status: str = "open"
    version: int = Field(ge=1)
    created_at: AwareDatetime


@register
class OfferCreatedV1(Contract):
    """A tasker offered on a task: messaging opens the (task, tasker) conversation."""

    TYPE: ClassVar = "tasks.offer.created"
    VERSION: ClassVar = 1

    offer_id: UUID
    task_id: UUID
    owner_id: UUID
    tasker_id: UUID
    title: str
    price_cents: int = Field(ge=0)
    message: str = ""
    created_at: AwareDatetime


@register
class TaskAssignedV1(Contract):
    TYPE: ClassVar = "tasks.task.assigned"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    assignee_id: UUID
    offer_id: UUID
    title: str
    price_cents: int = Field(ge=0)
    status: str = "assigned"
    version: int = Field(ge=1)
    assigned_at: AwareDatetime


@register
class TaskStartedV1(Contract):
    TYPE: ClassVar = "tasks.task.started"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    assignee_id: UUID
    title: str
    status: str = "in_progress"
    version: int = Field(ge=1)
    started_at: AwareDatetime


@register
class TaskCompletedV1(Contract):
    TYPE: ClassVar = "tasks.task.completed"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    assignee_id: UUID
    title: str
    status: str = "completed"
    version: int = Field(ge=1)
    completed_at: AwareDatetime


@register
class TaskCancelledV1(Contract):
    TYPE: ClassVar = "tasks.task.cancelled"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    assignee_id: UUID | None = None
    title: str
    reason: str | None = None
    status: str = "cancelled"
    version: int = Field(ge=1)
    cancelled_at: AwareDatetime


@register
class TaskExpiredV1(Contract):
    TYPE: ClassVar = "tasks.task.expired"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    title: str
    status: str = "expired"
    version: int = Field(ge=1)
    expired_at: AwareDatetime


@register
class ReviewCreatedV1(Contract):
    TYPE: ClassVar = "tasks.review.created"
    VERSION: ClassVar = 1

    review_id: UUID
    task_id: UUID
    owner_id: UUID
    tasker_id: UUID
    rating: int = Field(ge=1, le=5)
    comment: str = ""
    created_at: AwareDatetime


@register
class TaskReminderDueV1(Contract):
    """The assigned task is due within the hour (sent once by the scheduler)."""

    TYPE: ClassVar = "tasks.task.reminder_due"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    assignee_id: UUID
    title: str
    due_at: AwareDatetime


@register
class OfferDeclinedV1(Contract):
    """Another offer was accepted: this tasker's open offer is declined."""

    TYPE: ClassVar = "tasks.offer.declined"
    VERSION: ClassVar = 1

    offer_id: UUID
    task_id: UUID
    tasker_id: UUID
    owner_id: UUID
    title: str


@register
class TaskDisputedV1(Contract):
    """The owner disputes the work the assignee marked done."""

    TYPE: ClassVar = "tasks.task.disputed"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    assignee_id: UUID
    title: str
    reason: str
    version: int = Field(ge=1)
