"""Events the tasks service publishes (stream TASKS, subjects `tasks.>`).

Each carries what messaging needs to keep its own view (owners, taskers, assignments,
cancellations) and to word a notification (`title`), so it never calls the tasks service.
`version` is the task's version after the change: a consumer can drop stale updates.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from chore_common.contracts.registry import Contract, register

# Added to v1 with a default: events published before currencies existed were in the
# platform's default currency, EUR.
CURRENCY_DOC = "ISO 4217 code; the amounts are minor units of it"


@register
class TaskCreatedV1(Contract):
    TYPE: ClassVar = "tasks.task.created"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    title: str
    category: str
    budget_cents: int = Field(ge=0)
    currency: str = Field("EUR", pattern="^[A-Z]{3}$", description=CURRENCY_DOC)
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
    currency: str = Field("EUR", pattern="^[A-Z]{3}$", description=CURRENCY_DOC)
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
    currency: str = Field("EUR", pattern="^[A-Z]{3}$", description=CURRENCY_DOC)
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
class TaskDoneV1(Contract):
    """The assignee marked the task done: the owner confirms or disputes it before
    `auto_confirm_at`, when it completes by itself."""

    TYPE: ClassVar = "tasks.task.done"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    assignee_id: UUID
    title: str
    status: str = "done"
    version: int = Field(ge=1)
    done_at: AwareDatetime
    auto_confirm_at: AwareDatetime


@register
class TaskCompletedV1(Contract):
    """The work is accepted: by the owner, by the auto-confirm, or by an admin settling a
    dispute (`confirmed_by`; absent in events older than the `done` step, hence "owner")."""

    TYPE: ClassVar = "tasks.task.completed"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    assignee_id: UUID
    title: str
    status: str = "completed"
    version: int = Field(ge=1)
    completed_at: AwareDatetime
    confirmed_by: Literal["owner", "auto", "admin"] = "owner"


@register
class TaskDisputedV1(Contract):
    """The owner disputes a `done` task; an admin resolves it."""

    TYPE: ClassVar = "tasks.task.disputed"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    assignee_id: UUID
    title: str
    reason: str
    status: str = "disputed"
    version: int = Field(ge=1)
    disputed_at: AwareDatetime


@register
class TaskDisputeResolvedV1(Contract):
    """An admin resolved a dispute: the task ended `outcome`, with the admin's `note`."""

    TYPE: ClassVar = "tasks.task.dispute_resolved"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    assignee_id: UUID
    title: str
    outcome: Literal["completed", "cancelled"]
    note: str
    resolved_by: UUID
    version: int = Field(ge=1)
    resolved_at: AwareDatetime


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
    """A participant reviewed the other side of a completed task. The review is still
    hidden (double-blind): this event is for services, never for display; show a review
    only from `tasks.review.published`. `owner_id` and `tasker_id` are the task's owner and
    assignee; `author_id` and `subject_id` say who wrote about whom (absent on events from
    before two-way reviews, when the owner always reviewed the tasker)."""

    TYPE: ClassVar = "tasks.review.created"
    VERSION: ClassVar = 1

    review_id: UUID
    task_id: UUID
    owner_id: UUID
    tasker_id: UUID
    rating: int = Field(ge=1, le=5)
    comment: str = ""
    created_at: AwareDatetime
    author_id: UUID | None = None
    subject_id: UUID | None = None
    reveal_at: AwareDatetime | None = Field(
        None, description="when it becomes visible at the latest, if the other side does not write"
    )


@register
class ReviewPublishedV1(Contract):
    """A review became visible: both sides of the task wrote, or the blind period after
    completion ended. One event per review; messaging tells `subject_id`."""

    TYPE: ClassVar = "tasks.review.published"
    VERSION: ClassVar = 1

    review_id: UUID
    task_id: UUID
    title: str
    author_id: UUID
    subject_id: UUID
    rating: int = Field(ge=1, le=5)
    comment: str = ""
    created_at: AwareDatetime
    published_at: AwareDatetime


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
class OfferUpdatedV1(Contract):
    """A tasker changed the price or message of their open offer: the owner hears of it."""

    TYPE: ClassVar = "tasks.offer.updated"
    VERSION: ClassVar = 1

    offer_id: UUID
    task_id: UUID
    owner_id: UUID
    tasker_id: UUID
    title: str
    price_cents: int = Field(ge=0)
    message: str = ""
    version: int = Field(ge=1, description="the offer's version after the change")
    updated_at: AwareDatetime


@register
class OfferWithdrawnV1(Contract):
    """A tasker took back their open offer: the owner hears of it."""

    TYPE: ClassVar = "tasks.offer.withdrawn"
    VERSION: ClassVar = 1

    offer_id: UUID
    task_id: UUID
    owner_id: UUID
    tasker_id: UUID
    title: str
    version: int = Field(ge=1, description="the offer's version after the change")
    withdrawn_at: AwareDatetime


@register
class OfferDeclinedV1(Contract):
    """Another offer on the task was accepted: one event per declined offer, to its tasker."""

    TYPE: ClassVar = "tasks.offer.declined"
    VERSION: ClassVar = 1

    offer_id: UUID
    task_id: UUID
    tasker_id: UUID
    owner_id: UUID
    title: str
    declined_at: AwareDatetime


@register
class TaskReopenedV1(Contract):
    """The assignee withdrew (`by` "assignee") or the owner released them (`by` "owner"):
    the task is open again and its declined offers stand again."""

    TYPE: ClassVar = "tasks.task.reopened"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    title: str
    by: Literal["assignee", "owner"]
    reason: str
    former_assignee_id: UUID
    reopened_offer_tasker_ids: tuple[UUID, ...] = Field(
        (), description="taskers whose declined offers are open again"
    )
    status: str = "open"
    version: int = Field(ge=1)
    reopened_at: AwareDatetime


@register
class TaskRepostedV1(Contract):
    """An expired task is open again with a new due time."""

    TYPE: ClassVar = "tasks.task.reposted"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    title: str
    due_at: AwareDatetime
    status: str = "open"
    version: int = Field(ge=1)
    reposted_at: AwareDatetime


@register
class TaskEditedV1(Contract):
    """The owner edited an open task: `changes` holds each changed field's new value."""

    TYPE: ClassVar = "tasks.task.edited"
    VERSION: ClassVar = 1

    task_id: UUID
    owner_id: UUID
    title: str
    changes: dict[str, Any]
    offerer_ids: tuple[UUID, ...] = Field((), description="taskers with an open offer on the task")
    version: int = Field(ge=1)
    edited_at: AwareDatetime
