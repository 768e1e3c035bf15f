"""What use cases need from storage: the unit of work and its repositories, as protocols.

`adapters/uow.py` implements them on SQLAlchemy; `tests/tasks/unit/fakes.py` in memory.
Repositories load and save but never commit; the use case commits once. A save whose
`expected_version` no longer matches raises `StaleVersion`; an insert that breaks a
uniqueness rule raises the domain's `Conflict` (`offer_exists`, `already_reviewed`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from chore_common.paging import Page, PageKey
from chore_common.ports import UnitOfWork
from chore_tasks.domain.edits import TaskEdit
from chore_tasks.domain.events import DomainEvent, TaskCreated
from chore_tasks.domain.jobs import Job, JobKind, JobStatus
from chore_tasks.domain.model import (
    Actor,
    Dispute,
    Offer,
    OfferStatus,
    Review,
    Status,
    Task,
)
from chore_tasks.domain.people import PersonCard, PersonStatus
from chore_tasks.domain.reports import Report
from chore_tasks.domain.reviews import (
    RatingSummary,
)
from chore_tasks.domain.search import (
    Near,
    SearchKey,
    Sort,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFilter:
    """A browse query. Results are only tasks `viewer` may see (`policies.can_view`), that
    pass every filter given, in `sort` order then by id (`domain/search.py`).

    `categories`: any of them; `budget_*` and `due_*` bounds are inclusive; `words`: all of
    them, as words of the title or the description; `near`: tasks with a point within
    `radius_km` (great circle).
    """

    viewer: Actor
    status: Status | None = None
    categories: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    owner_id: UUID | None = None
    assignee_id: UUID | None = None
    budget_min: int | None = None
    budget_max: int | None = None
    due_after: datetime | None = None
    due_before: datetime | None = None
    near: Near | None = None
    sort: Sort = Sort.NEWEST
    limit: int = 20
    after: SearchKey | None = None


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of a browse and where it ended (None on the last page)."""

    items: list[Task]
    next_key: SearchKey | None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobFilter:
    """An admin's job listing, newest first."""

    status: JobStatus | None = None
    kind: JobKind | None = None
    task_id: UUID | None = None
    limit: int = 20
    after: PageKey | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DisputeFilter:
    """An admin's dispute listing, oldest first: open ones, or resolved ones."""

    resolved: bool = False
    limit: int = 20
    after: PageKey | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportFilter:
    """An admin's report queue, oldest first: open reports, or answered ones."""

    closed: bool = False
    limit: int = 20
    after: PageKey | None = None


class ReportRepository(Protocol):
    async def get(self, report_id: UUID) -> Report | None: ...
    async def add(self, report: Report) -> None:
        """Conflict `report_exists` while the reporter has an open report of the target."""
        ...

    async def close(self, report: Report) -> bool:
        """Save an open report's answer; False when it was answered meanwhile."""
        ...

    async def list(self, query: ReportFilter) -> Page[Report]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class UserData:
    """Everything tasks holds about one user: their export."""

    tasks: list[Task]
    tasks_assigned: list[Task]
    offers: list[Offer]
    reviews_written: list[Review]
    reviews_received: list[Review]
    disputes: list[Dispute]


class UserDataRepository(Protocol):
    async def of(self, user_id: UUID) -> UserData: ...


class TaskRepository(Protocol):
    async def get(self, task_id: UUID) -> Task | None: ...
    async def add(self, *tasks: Task) -> None:
        """Insert one task or many, in one statement."""
        ...

    async def save(self, task: Task, *, expected_version: int) -> None: ...
    async def browse(self, query: TaskFilter) -> SearchPage: ...


class OfferRepository(Protocol):
    async def get(self, offer_id: UUID) -> Offer | None: ...
    async def add(self, offer: Offer) -> None: ...
    async def save(self, offer: Offer, *, expected_version: int) -> None: ...
    async def of_task(self, task_id: UUID, *statuses: OfferStatus) -> list[Offer]:
        """The task's offers in these statuses (all when none is given), oldest first."""
        ...

    async def has_open(self, task_id: UUID, tasker_id: UUID) -> bool: ...
    async def open_of_tasker(self, tasker_id: UUID) -> list[Offer]:
        """Every open offer the tasker has, on any task."""
        ...

    async def exists(self, task_id: UUID, tasker_id: UUID) -> bool: ...
    async def list(
        self, task_id: UUID, *, tasker_id: UUID | None, limit: int, after: PageKey | None
    ) -> Page[Offer]:
        """Oldest first; only `tasker_id`'s offers when it is given."""
        ...


class ReviewRepository(Protocol):
    async def of_task(self, task_id: UUID, *, lock: bool = False) -> list[Review]:
        """Oldest first. `lock`: hold the task for this transaction, so the task's reviews
        are written and revealed one transaction after another."""
        ...

    async def add(self, review: Review) -> None: ...
    async def reveal(self, review: Review) -> bool:
        """Store `review.visible_at` unless it is already visible; True if this call did."""
        ...

    async def visible_of(
        self, subject_id: UUID, *, limit: int, after: PageKey | None
    ) -> Page[Review]:
        """Visible reviews of `subject_id`, newest `visible_at` first; the page key is
        (visible_at, id)."""
        ...


class RatingRepository(Protocol):
    async def add(self, user_id: UUID, rating: int, now: datetime) -> None:
        """One more visible review of `user_id` with this rating."""
        ...

    async def of(self, user_id: UUID) -> RatingSummary: ...


class PeopleRepository(Protocol):
    """The people read model (domain/people.py), filled from auth's events."""

    async def named(self, user_id: UUID, name: str, now: datetime) -> None:
        """Their name now (nothing changes once they are deleted)."""
        ...

    async def set_status(self, user_id: UUID, status: PersonStatus, now: datetime) -> None:
        """Their account status now; `deleted` also names them "Deleted user", for good."""
        ...

    async def cards(self, user_ids: Sequence[UUID]) -> dict[UUID, PersonCard]:
        """Name, rating and completed tasks of each id (a card for every id asked)."""
        ...

    async def status(self, user_id: UUID) -> PersonStatus:
        """Their account status (`active` when tasks has not heard of them)."""
        ...


class TaskEditRepository(Protocol):
    async def add(self, edit: TaskEdit) -> None: ...
    async def list(self, task_id: UUID, *, limit: int, after: PageKey | None) -> Page[TaskEdit]:
        """Oldest first."""
        ...


class DisputeRepository(Protocol):
    async def for_task(self, task_id: UUID) -> Dispute | None: ...
    async def add(self, dispute: Dispute) -> None: ...
    async def save(self, dispute: Dispute) -> None: ...
    async def list(self, query: DisputeFilter) -> Page[Dispute]: ...


class JobRepository(Protocol):
    async def get(self, job_id: UUID) -> Job | None: ...
    async def add(self, *jobs: Job) -> None:
        """Insert one job or many, in one statement."""
        ...

    async def save(self, job: Job, *, expected_version: int) -> None: ...
    async def delete(self, job_id: UUID) -> None: ...
    async def list(self, query: JobFilter) -> Page[Job]: ...


class TaskReadCache(Protocol):
    """Recently read tasks; `get` never returns a version older than one it was told of.
    And their owners' account statuses: `person_status` never returns one that was dropped
    (changed) after it was read from the database."""

    def get(self, task_id: UUID) -> Task | None: ...
    def put(self, task: Task) -> None: ...
    def person_status(self, user_id: UUID) -> PersonStatus | None: ...
    def people_generation(self) -> int:
        """Taken before a status is read from the database, for `put_person_status`."""
        ...

    def put_person_status(self, user_id: UUID, status: PersonStatus, generation: int) -> None: ...


class NewTasks(Protocol):
    """Writes a posted task, its expiry job and its event in one transaction; returns once
    they are committed (`adapters/group_commit.py` shares that transaction among posts)."""

    async def add(self, task: Task, expiry: Job | None, event: TaskCreated) -> None: ...


class TasksUnitOfWork(UnitOfWork[DomainEvent], Protocol):
    """The kit's unit of work (`async with`, `commit`, `record(event)`) over tasks' stores."""

    @property
    def tasks(self) -> TaskRepository: ...
    @property
    def offers(self) -> OfferRepository: ...
    @property
    def reviews(self) -> ReviewRepository: ...
    @property
    def ratings(self) -> RatingRepository: ...
    @property
    def jobs(self) -> JobRepository: ...
    @property
    def edits(self) -> TaskEditRepository: ...
    @property
    def disputes(self) -> DisputeRepository: ...
    @property
    def user_data(self) -> UserDataRepository: ...
    @property
    def reports(self) -> ReportRepository: ...
    @property
    def people(self) -> PeopleRepository: ...


UowFactory = Callable[[], TasksUnitOfWork]
