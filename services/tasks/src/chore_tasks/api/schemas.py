"""Request and response bodies of /tasks: what clients send and see, nothing more; and
`TaskBodies`, the rendered JSON of recent task versions."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import (
    Annotated,
    Any,
    Literal,
)
from uuid import UUID

from pydantic import BaseModel, Field

from chore_common.http.fields import Instant, Text
from chore_common.http.pagination import Cursor
from chore_common.http.validation import OutModel, StrictModel
from chore_tasks.domain.jobs import JobKind, JobStatus
from chore_tasks.domain.lifecycle import NOTE_MAX, REASON_MAX
from chore_tasks.domain.model import (
    ADDRESS_MAX,
    COMMENT_MAX,
    DESCRIPTION_MAX,
    MESSAGE_MAX,
    TITLE_MAX,
    Location,
    Status,
    Task,
)
from chore_tasks.domain.reviews import RatingSummary
from chore_tasks.domain.search import RADIUS_MAX_KM, Near, Sort

DEFAULT_RADIUS_KM = 25.0
# Two decimal numbers: the ranges are the domain's to check (422 `bad_near`).
NEAR_PATTERN = r"^-?\d{1,3}(\.\d{1,12})?,-?\d{1,3}(\.\d{1,12})?$"

# A billion dollars: beyond it a typo, not a chore.
MAX_CENTS = 100_000_000_000
Currency = Annotated[
    str, Field(pattern="^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR", examples=["EUR"])
]
MinorUnits = Annotated[
    int, Field(gt=0, le=MAX_CENTS, strict=True, description="minor units of `currency`")
]


class LocationIn(StrictModel):
    lat: float = Field(ge=-90, le=90, strict=True, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, strict=True, allow_inf_nan=False)
    address: Text | None = Field(None, max_length=ADDRESS_MAX)

    def to_domain(self) -> Location:
        return Location(lat=self.lat, lon=self.lon, address=self.address)


class LocationOut(OutModel):
    lat: float | None = Field(description="null on tasks posted before locations had points")
    lon: float | None
    address: str | None


class TaskIn(StrictModel):
    title: Text = Field(min_length=1, max_length=TITLE_MAX)
    description: Text = Field("", max_length=DESCRIPTION_MAX)
    category: Text = Field(min_length=1, max_length=64)
    budget_cents: MinorUnits
    currency: Currency | None = Field(None, description="the platform's default when absent")
    due_at: Instant | None = None
    location: LocationIn | None = None


class TaskOut(OutModel):
    id: UUID
    owner_id: UUID
    title: str
    description: str
    category: str
    budget_cents: int = Field(description="minor units of `currency`")
    currency: str
    due_at: datetime | None
    location: LocationOut | None
    status: Status
    assignee_id: UUID | None
    offer_id: UUID | None = Field(description="the accepted offer, once assigned")
    cancel_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime


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
    category: list[Annotated[Text, Field(max_length=64)]] = Field(
        default_factory=list, max_length=20, description="any of these (repeat the parameter)"
    )
    q: Text | None = Field(
        None, max_length=200, description="full text: every word in the title or description"
    )
    owner: Literal["me"] | None = None
    assignee: Literal["me"] | None = None
    budget_min: int | None = Field(None, ge=0, le=MAX_CENTS, description="minor units, inclusive")
    budget_max: int | None = Field(None, ge=0, le=MAX_CENTS, description="minor units, inclusive")
    due_after: Instant | None = Field(None, description="due at or after (undated tasks drop)")
    due_before: Instant | None = Field(None, description="due at or before (undated tasks drop)")
    near: str | None = Field(
        None,
        pattern=NEAR_PATTERN,
        max_length=64,
        description="`lat,lon` in degrees: tasks within `radius_km` of it",
        examples=["52.52,13.405"],
    )
    radius_km: float = Field(
        DEFAULT_RADIUS_KM, gt=0, le=RADIUS_MAX_KM, allow_inf_nan=False, description="with near"
    )
    sort: Sort = Field(
        Sort.NEWEST, description="distance needs near, relevance needs q; ties by id"
    )
    limit: int = Field(20, ge=1, le=100)
    cursor: Cursor | None = None

    def near_point(self) -> Near | None:
        if self.near is None:
            return None
        lat, lon = (float(part) for part in self.near.split(","))
        return Near(lat, lon, self.radius_km)


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None


class OfferIn(StrictModel):
    price_cents: MinorUnits
    currency: Currency | None = Field(None, description="the task's; another one is 422")
    message: Text = Field("", max_length=MESSAGE_MAX)


class PersonOut(OutModel):
    """Another person, from tasks' own read model (names from auth's events; no call)."""

    id: UUID
    name: str | None = Field(
        description='their name; "Deleted user" once the account is deleted; null until '
        "tasks heard of them"
    )
    rating_mean: float | None = Field(description="mean of their visible reviews; null: none")
    rating_count: int = Field(description="how many visible reviews they received")
    completed_count: int = Field(description="completed tasks they took part in (either side)")


class OfferOut(OutModel):
    id: UUID
    task_id: UUID
    tasker_id: UUID
    price_cents: int = Field(description="minor units of `currency`")
    currency: str
    message: str
    status: str = Field(description="open, accepted, declined, withdrawn or released")
    created_at: datetime
    version: int = Field(description="the offer's ETag, for If-Match on its update or withdrawal")
    updated_at: datetime
    tasker: PersonOut | None = Field(
        None, description="the tasker's name and record (in offer lists; null elsewhere)"
    )


class OfferPatchIn(StrictModel):
    """What a tasker changes on their open offer; a field left out stays as it is."""

    price_cents: int | None = Field(None, gt=0, le=MAX_CENTS, strict=True)
    message: Text | None = Field(None, max_length=MESSAGE_MAX)


class ReasonIn(StrictModel):
    reason: Text = Field(min_length=1, max_length=REASON_MAX)


class RepostIn(StrictModel):
    due_at: Instant


class TaskPatchIn(StrictModel):
    """The fields the owner changes on an open task; a field left out stays as it is, and
    `due_at` or `location` sent as null is cleared."""

    title: Text | None = Field(None, min_length=1, max_length=TITLE_MAX)
    description: Text | None = Field(None, max_length=DESCRIPTION_MAX)
    budget_cents: int | None = Field(None, gt=0, le=MAX_CENTS, strict=True)
    due_at: Instant | None = None
    location: LocationIn | None = None

    def changes(self) -> dict[str, Any]:
        """The fields sent, as the domain's values (a location as a `Location`)."""
        sent = {name: getattr(self, name) for name in self.model_fields_set}
        if isinstance(sent.get("location"), LocationIn):
            sent["location"] = sent["location"].to_domain()
        return sent


class TaskEditOut(OutModel):
    id: UUID
    task_id: UUID
    editor_id: UUID
    changes: dict[str, dict[str, Any]] = Field(description='field -> {"from": old, "to": new}')
    version: int = Field(description="the task's version after the edit")
    created_at: datetime


class TaskEditPage(BaseModel):
    items: list[TaskEditOut]
    next_cursor: str | None


class HistoryQuery(StrictModel):
    limit: int = Field(20, ge=1, le=100)
    cursor: Cursor | None = None


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


class ReviewOut(OutModel):
    id: UUID
    task_id: UUID
    author_id: UUID
    subject_id: UUID
    rating: int
    comment: str
    created_at: datetime
    reveal_at: datetime = Field(description="visible by then at the latest")
    visible_at: datetime | None = Field(
        description="when it became visible; null while hidden (only its author sees it then)"
    )


class RatingOut(BaseModel):
    count: int
    mean: float | None = Field(description="to two decimals; null with no reviews")
    distribution: dict[str, int] = Field(description='reviews per star, "1" to "5"')

    @classmethod
    def of(cls, summary: RatingSummary) -> RatingOut:
        stars = {str(n): summary.stars[n - 1] for n in range(1, 6)}
        return cls(count=summary.count, mean=summary.mean, distribution=stars)


class UserReviewQuery(StrictModel):
    limit: int = Field(20, ge=1, le=100)
    cursor: Cursor | None = None


class UserReviewPage(BaseModel):
    """A user's visible reviews, most recently published first, and their rating summary."""

    items: list[ReviewOut]
    next_cursor: str | None
    rating: RatingOut


class JobOut(OutModel):
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


class DisputeIn(StrictModel):
    reason: Text = Field(min_length=1, max_length=REASON_MAX, description="what is wrong")


class ResolveIn(StrictModel):
    outcome: Literal["completed", "cancelled"] = Field(description="the status the task ends in")
    note: Text = Field(min_length=1, max_length=NOTE_MAX, description="why, for both sides")


class DisputeOut(OutModel):
    id: UUID
    task_id: UUID
    owner_id: UUID
    assignee_id: UUID
    title: str
    reason: str
    created_at: datetime
    outcome: Status | None
    note: str | None
    resolved_by: UUID | None
    resolved_at: datetime | None


class DisputeQuery(StrictModel):
    state: Literal["open", "resolved"] = "open"
    limit: int = Field(20, ge=1, le=100)
    cursor: Cursor | None = None


class DisputePage(BaseModel):
    items: list[DisputeOut]
    next_cursor: str | None


class TasksExportOut(BaseModel):
    """What tasks holds about the caller: `GET /tasks/me/export`, one part of the platform
    export the gateway assembles (docs/auth.md)."""

    service: Literal["tasks"] = "tasks"
    exported_at: datetime
    user_id: UUID
    tasks: list[TaskOut] = Field(description="tasks the user posted, oldest first")
    tasks_assigned: list[TaskOut] = Field(description="tasks assigned to the user")
    offers: list[OfferOut] = Field(description="offers the user made, in every status")
    reviews_written: list[ReviewOut]
    reviews_received: list[ReviewOut] = Field(
        description="visible ones only: a hidden review is not yet the subject's to read"
    )
    disputes: list[DisputeOut] = Field(description="disputes of tasks the user owns or did")


class ReportIn(StrictModel):
    reason: Text = Field(min_length=1, max_length=REASON_MAX, description="what is wrong with it")


class ReportOut(OutModel):
    id: UUID
    target: Literal["task", "offer"]
    target_id: UUID
    task_id: UUID
    reporter_id: UUID
    subject_id: UUID = Field(description="who wrote what is reported")
    reason: str
    content: str = Field(description="what was reported, as the reporter saw it")
    created_at: datetime
    status: Literal["open", "dismissed", "resolved"]
    note: str | None
    closed_by: UUID | None
    closed_at: datetime | None


class ReportQuery(StrictModel):
    state: Literal["open", "closed"] = "open"
    limit: int = Field(20, ge=1, le=100)
    cursor: Cursor | None = None


class ReportPage(BaseModel):
    items: list[ReportOut]
    next_cursor: str | None
