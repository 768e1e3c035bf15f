"""What callers ask for: one frozen dataclass per command or query.

`if_match` is the version from an `If-Match` header (None when absent); `after` is a decoded
pagination cursor. Built by `api/`, `adapters/consumers.py` and the scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from chore_common.paging import PageKey
from chore_tasks.domain.jobs import JobKind, JobStatus
from chore_tasks.domain.model import (
    Action,
    Actor,
    Location,
    Status,
)
from chore_tasks.domain.money import (
    DEFAULT_CURRENCY,
)
from chore_tasks.domain.search import (
    Near,
    SearchKey,
    Sort,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateTask:
    actor: Actor
    title: str
    description: str
    category: str
    budget_cents: int
    currency: str = DEFAULT_CURRENCY
    due_at: datetime | None = None
    location: Location | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetTask:
    task_id: UUID
    actor: Actor


@dataclass(frozen=True, slots=True, kw_only=True)
class BrowseTasks:
    actor: Actor
    status: Status | None = None
    categories: tuple[str, ...] = ()
    q: str | None = None
    owner_me: bool = False
    assignee_me: bool = False
    budget_min: int | None = None
    budget_max: int | None = None
    due_after: datetime | None = None
    due_before: datetime | None = None
    near: Near | None = None
    sort: Sort = Sort.NEWEST
    limit: int = 20
    after: SearchKey | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MakeOffer:
    task_id: UUID
    actor: Actor
    price_cents: int
    message: str
    currency: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListOffers:
    task_id: UUID
    actor: Actor
    limit: int = 20
    after: PageKey | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateOffer:
    """`if_match` is the offer's version (its ETag); None leaves a field as it is."""

    task_id: UUID
    offer_id: UUID
    actor: Actor
    price_cents: int | None = None
    message: str | None = None
    if_match: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WithdrawOffer:
    task_id: UUID
    offer_id: UUID
    actor: Actor
    if_match: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReopenTask:
    """`action` is WITHDRAW (the assignee steps back) or RELEASE (the owner lets them go)."""

    task_id: UUID
    actor: Actor
    action: Action
    reason: str
    if_match: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RepostTask:
    task_id: UUID
    actor: Actor
    due_at: datetime
    if_match: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EditTask:
    """`fields`: only the fields the owner changes, by name (`domain/edits.py` EDITABLE)."""

    task_id: UUID
    actor: Actor
    fields: dict[str, object]
    if_match: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskHistory:
    task_id: UUID
    actor: Actor
    limit: int = 20
    after: PageKey | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignTask:
    task_id: UUID
    offer_id: UUID
    actor: Actor
    if_match: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StartTask:
    task_id: UUID
    actor: Actor
    if_match: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CompleteTask:
    task_id: UUID
    actor: Actor
    if_match: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelTask:
    task_id: UUID
    actor: Actor
    reason: str | None = None
    if_match: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewTask:
    task_id: UUID
    actor: Actor
    rating: int
    comment: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListUserReviews:
    """A user's visible reviews (any signed-in user may read them) and rating summary."""

    user_id: UUID
    actor: Actor
    limit: int = 20
    after: PageKey | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetUserRating:
    user_id: UUID
    actor: Actor


@dataclass(frozen=True, slots=True, kw_only=True)
class RevealReviews:
    """Run by the scheduler at the end of a task's blind period (job `reveal_reviews`)."""

    task_id: UUID
    job_id: UUID | None = None
    attempt: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpireTask:
    """Run by the scheduler. With `job_id`, the claimed job (at try `attempt`) is finished in
    the same transaction as the expiry, so the event is recorded exactly once."""

    task_id: UUID
    job_id: UUID | None = None
    attempt: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RemindAssignee:
    task_id: UUID
    job_id: UUID | None = None
    attempt: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordJobFailure:
    job_id: UUID
    attempt: int
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListJobs:
    actor: Actor
    status: JobStatus | None = None
    kind: JobKind | None = None
    task_id: UUID | None = None
    limit: int = 20
    after: PageKey | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobCommand:
    """An admin's retry, run-now, delete or look-up of one job."""

    job_id: UUID
    actor: Actor


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmTask:
    task_id: UUID
    actor: Actor
    if_match: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DisputeTask:
    task_id: UUID
    actor: Actor
    reason: str
    if_match: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolveDispute:
    """An admin ends a dispute: `outcome` is the status the task ends in."""

    task_id: UUID
    actor: Actor
    outcome: Status
    note: str
    if_match: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListDisputes:
    actor: Actor
    resolved: bool = False
    limit: int = 20
    after: PageKey | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoConfirmTask:
    """Run by the scheduler, like `ExpireTask`."""

    task_id: UUID
    job_id: UUID | None = None
    attempt: int = 0
