"""Request and response bodies of /tasks: what clients send and see, nothing more; and
`TaskBodies`, the rendered JSON of recent task versions."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from chore_common.http.fields import Instant, Text
from chore_common.http.pagination import Cursor
from chore_common.http.validation import StrictModel
from chore_tasks.domain.jobs import Job, JobKind, JobStatus
from chore_tasks.domain.lifecycle import REASON_MAX
from chore_tasks.domain.model import (
    COMMENT_MAX,
    DESCRIPTION_MAX,
    MESSAGE_MAX,
    TITLE_MAX,
    Offer,
    Review,
    Status,
    Task,
)

# A billion dollars: beyond it a typo, not a chore.
MAX_CENTS = 100_000_000_000


class TaskIn(StrictModel):
    title: Text = Field(min_length=1, max_length=TITLE_MAX)
    description: Text = Field("", max_length=DESCRIPTION_MAX)
    category: Text = Field(min_length=1, max_length=64)
    budget_cents: int = Field(gt=0, le=MAX_CENTS, strict=True)
    due_at: Instant | None = None
    location: Text | None = Field(None, max_length=500)


class TaskOut(BaseModel):
    id: UUID
    owner_id: UUID
    title: str
    description: str
    category: str
    budget_cents: int
    due_at: datetime | None
    location: str | None
    status: Status
    assignee_id: UUID | None
    offer_id: UUID | None = Field(description="the accepted offer, once assigned")
    cancel_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, task: Task) -> TaskOut:
        return cls(
            id=task.id,
            owner_id=task.owner_id,
            title=task.title,
            description=task.description,
            category=task.category,
            budget_cents=task.budget_cents,
            due_at=task.due_at,
            location=task.location,
            status=task.status,
            assignee_id=task.assignee_id,
            offer_id=task.offer_id,
            cancel_reason=task.cancel_reason,
            version=task.version,
            created_at=task.created_at,
            updated_at=task.updated_at,
        )


class TaskBodies:
    """(task id, version) -> its `TaskOut` JSON, the most recent `size` kept.

    A version never changes, so neither does its body: a cached read then skips the model
    and the serializer. One per app (`keys.TASK_BODIES`), built by the bootstrap.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._bodies: OrderedDict[tuple[UUID, int], bytes] = OrderedDict()

    def of(self, task: Task) -> bytes:
        key = (task.id, task.version)
        bodies = self._bodies
        body = bodies.get(key)
        if body is None:
            out = TaskOut.of(task)
            body = bodies[key] = out.__pydantic_serializer__.to_json(out)
            if len(bodies) > self.size:
                bodies.popitem(last=False)
        return body


class TaskQuery(StrictModel):
    status: Status | None = None
    category: Text | None = Field(None, max_length=64)
    q: Text | None = Field(None, max_length=200, description="words in title or description")
    owner: Literal["me"] | None = None
    assignee: Literal["me"] | None = None
    limit: int = Field(20, ge=1, le=100)
    cursor: Cursor | None = None


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None


class OfferIn(StrictModel):
    price_cents: int = Field(gt=0, le=MAX_CENTS, strict=True)
    message: Text = Field("", max_length=MESSAGE_MAX)


class OfferOut(BaseModel):
    id: UUID
    task_id: UUID
    tasker_id: UUID
    price_cents: int
    message: str
    status: str
    created_at: datetime

    @classmethod
    def of(cls, offer: Offer) -> OfferOut:
        return cls(
            id=offer.id,
            task_id=offer.task_id,
            tasker_id=offer.tasker_id,
            price_cents=offer.price_cents,
            message=offer.message,
            status=offer.status.value,
            created_at=offer.created_at,
        )


class OfferQuery(StrictModel):
    limit: int = Field(20, ge=1, le=100)
    cursor: Cursor | None = None


class OfferPage(BaseModel):
    items: list[OfferOut]
    next_cursor: str | None


class AssignIn(StrictModel):
    offer_id: UUID


class CancelIn(StrictModel):
    reason: Text | None = Field(None, max_length=REASON_MAX)


class ReviewIn(StrictModel):
    rating: int = Field(ge=1, le=5, strict=True)
    comment: Text = Field("", max_length=COMMENT_MAX)


class ReviewOut(BaseModel):
    id: UUID
    task_id: UUID
    author_id: UUID
    subject_id: UUID
    rating: int
    comment: str
    created_at: datetime

    @classmethod
    def of(cls, review: Review) -> ReviewOut:
        return cls(
            id=review.id,
            task_id=review.task_id,
            author_id=review.author_id,
            subject_id=review.subject_id,
            rating=review.rating,
            comment=review.comment,
            created_at=review.created_at,
        )


class JobOut(BaseModel):
    id: UUID
    kind: JobKind
    task_id: UUID
    run_at: datetime
    status: JobStatus
    attempts: int
    max_attempts: int
    last_error: str | None
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            kind=job.kind,
            task_id=job.task_id,
            run_at=job.run_at,
            status=job.status,
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            last_error=job.last_error,
            locked_until=job.locked_until,
            created_at=job.created_at,
            updated_at=job.updated_at,
        )


class JobQuery(StrictModel):
    status: JobStatus | None = None
    kind: JobKind | None = None
    task_id: UUID | None = None
    limit: int = Field(20, ge=1, le=100)
    cursor: Cursor | None = None
    # Read by the bearer middleware (the admin page in a browser), not by the query.
    token: Text | None = Field(None, max_length=4096, description="access token, browsers only")


class JobPage(BaseModel):
    items: list[JobOut]
    next_cursor: str | None
