"""An in-memory unit of work with the real one's shape, for use-case unit tests.

`FakeDatabase` holds what was committed; each `FakeUnitOfWork` works on a copy and writes it
back on `commit()`, checking versions the way `UPDATE ... WHERE version = :expected` does, so
racing use cases lose with `StaleVersion` exactly as they would on a real database. Every
repository call yields to the event loop, so `asyncio.gather` interleaves use cases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Self, TypeVar
from uuid import UUID

from chore_common.errors import Conflict
from chore_common.paging import Page, PageKey
from chore_tasks.domain import jobs as job_rules
from chore_tasks.domain.edits import (
    TaskEdit,
)
from chore_tasks.domain.errors import (
    StaleVersion,
)
from chore_tasks.domain.events import (
    DomainEvent,
)
from chore_tasks.domain.jobs import (
    Job,
    JobStatus,
    RetryPolicy,
)
from chore_tasks.domain.model import (
    Dispute,
    Offer,
    OfferStatus,
    Review,
    Status,
    Task,
)
from chore_tasks.domain.people import DELETED_NAME, PersonCard, PersonStatus
from chore_tasks.domain.reviews import (
    RatingSummary,
)
from chore_tasks.usecases.ports import (
    DisputeFilter,
    JobFilter,
    SearchPage,
    TaskFilter,
)
from tasks import (
    search_oracle,
)

T = TypeVar("T")


class RowLocks:
    """Row locks as an UPDATE takes them: a second writer waits for the first to finish."""

    def __init__(self) -> None:
        self._held: dict[UUID, tuple[object, asyncio.Event]] = {}

    async def acquire(self, key: UUID, owner: object) -> None:
        while (held := self._held.get(key)) is not None and held[0] is not owner:
            await held[1].wait()
        self._held.setdefault(key, (owner, asyncio.Event()))

    def release_all(self, owner: object) -> None:
        for key, (who, done) in list(self._held.items()):
            if who is owner:
                del self._held[key]
                done.set()


@dataclass
class FakeDatabase:
    tasks: dict[UUID, Task] = field(default_factory=dict)
    offers: dict[UUID, Offer] = field(default_factory=dict)
    reviews: dict[UUID, Review] = field(default_factory=dict)
    ratings: dict[UUID, RatingSummary] = field(default_factory=dict)
    jobs: dict[UUID, Job] = field(default_factory=dict)
    edits: dict[UUID, TaskEdit] = field(default_factory=dict)
    disputes: dict[UUID, Dispute] = field(default_factory=dict)
    people: dict[UUID, tuple[str | None, PersonStatus]] = field(default_factory=dict)
    events: list[DomainEvent] = field(default_factory=list)
    commits: int = 0
    locks: RowLocks = field(default_factory=RowLocks)

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    def claim_due(self, now: datetime, policy: RetryPolicy) -> list[Job]:
        """What the scheduler adapter does in its own transaction before running jobs."""
        claimed = [
            job_rules.claim(job, now=now, policy=policy)
            for job in self.jobs.values()
            if job_rules.is_claimable(job, now)
        ]
        self.jobs.update((job.id, job) for job in claimed)
        return claimed

    def events_of(self, kind: type[T]) -> list[T]:
        return [e for e in self.events if isinstance(e, kind)]


def _key(item: Task | Offer | Job | TaskEdit) -> tuple[datetime, UUID]:
    return item.created_at, item.id


def _page(items: Iterable[T], key: Callable[[T], tuple[datetime, UUID]], limit: int) -> Page[T]:
    chosen = list(items)[: limit + 1]
    if len(chosen) <= limit:
        return Page(chosen, None)
    last = key(chosen[limit - 1])
    return Page(chosen[:limit], PageKey(*last))


class _Tracked:
    """Remembers what a transaction wrote, and which versions it expects to overwrite."""

    def __init__(
        self,
        committed: dict[UUID, Task] | dict[UUID, Job] | None = None,
        locks: RowLocks | None = None,
        owner: object = None,
    ) -> None:
        # A real UPDATE ... WHERE version = :expected waits for a concurrent writer's row
        # lock, then sees its commit.
        self.committed = committed or {}
        self.locks, self.owner = locks or RowLocks(), owner
        self.expected: dict[UUID, int] = {}
        self.dirty: set[UUID] = set()
        self.deleted: set[UUID] = set()

    async def expect(self, item_id: UUID, version: int) -> None:
        await self.locks.acquire(item_id, self.owner)
        latest = self.committed.get(item_id)
        if latest is None or latest.version != version:
            found = latest.version if latest else None
            raise StaleVersion(f"{item_id} is at version {found}, not {version}")
        self.expected.setdefault(item_id, version)


class FakeTasks(_Tracked):
    def __init__(
        self,
        rows: dict[UUID, Task],
        offers: dict[UUID, Offer],
        committed: dict[UUID, Task],
        locks: RowLocks,
        owner: object,
    ) -> None:
        super().__init__(committed, locks, owner)
        self.rows, self._offers = rows, offers

    async def get(self, task_id: UUID) -> Task | None:
        await asyncio.sleep(0)
        return self.rows.get(task_id)

    async def add(self, *tasks: Task) -> None:
        await asyncio.sleep(0)
        for task in tasks:
            self.rows[task.id] = task
            self.dirty.add(task.id)

    async def save(self, task: Task, *, expected_version: int) -> None:
        await asyncio.sleep(0)
        await self.expect(task.id, expected_version)
        self.rows[task.id] = task
        self.dirty.add(task.id)

    async def browse(self, query: TaskFilter) -> SearchPage:
        await asyncio.sleep(0)
        viewer = query.viewer
        offered = {o.task_id for o in self._offers.values() if o.tasker_id == viewer.user_id}
        return search_oracle.page(self.rows.values(), query, offered)


class FakeOffers(_Tracked):
    def __init__(self, rows: dict[UUID, Offer]) -> None:
        super().__init__()
        self.rows = rows

    async def get(self, offer_id: UUID) -> Offer | None:
        await asyncio.sleep(0)
        return self.rows.get(offer_id)

    async def add(self, offer: Offer) -> None:
        await asyncio.sleep(0)
        if await self.has_open(offer.task_id, offer.tasker_id):
            raise Conflict("an open offer exists", code="offer_exists")
        self.rows[offer.id] = offer
        self.dirty.add(offer.id)

    async def save(self, offer: Offer, *, expected_version: int) -> None:
        await asyncio.sleep(0)
        current = self.rows.get(offer.id)
        if current is None or current.version != expected_version:
            raise StaleVersion(f"offer {offer.id} changed since version {expected_version}")
        self.rows[offer.id] = offer
        self.dirty.add(offer.id)

    async def of_task(self, task_id: UUID, *statuses: OfferStatus) -> list[Offer]:
        await asyncio.sleep(0)
        found = [
            o
            for o in self.rows.values()
            if o.task_id == task_id and (not statuses or o.status in statuses)
        ]
        return sorted(found, key=_key)

    async def has_open(self, task_id: UUID, tasker_id: UUID) -> bool:
        return any(
            o.task_id == task_id and o.tasker_id == tasker_id and o.status is OfferStatus.OPEN
            for o in self.rows.values()
        )

    async def exists(self, task_id: UUID, tasker_id: UUID) -> bool:
        await asyncio.sleep(0)
        return any(o.task_id == task_id and o.tasker_id == tasker_id for o in self.rows.values())

    async def open_of_tasker(self, tasker_id: UUID) -> list[Offer]:
        await asyncio.sleep(0)
        found = [
            o
            for o in self.rows.values()
            if o.tasker_id == tasker_id and o.status is OfferStatus.OPEN
        ]
        return sorted(found, key=_key)

    async def list(
        self, task_id: UUID, *, tasker_id: UUID | None, limit: int, after: PageKey | None
    ) -> Page[Offer]:
        await asyncio.sleep(0)
        mine = [
            o
            for o in self.rows.values()
            if o.task_id == task_id
            and tasker_id in (None, o.tasker_id)
            and (after is None or _key(o) > (after.created_at, after.id))
        ]
        return _page(sorted(mine, key=_key), _key, limit)


class FakeReviews(_Tracked):
    def __init__(
        self,
        rows: dict[UUID, Review],
        committed: dict[UUID, Review],
        locks: RowLocks,
        owner: object,
    ) -> None:
        super().__init__(None, locks, owner)
        self.rows = rows
        self.committed_reviews = committed

    async def of_task(self, task_id: UUID, *, lock: bool = False) -> list[Review]:
        await asyncio.sleep(0)
        if lock:
            # As SELECT ... FOR UPDATE: wait for the other writer, then see what it committed.
            await self.locks.acquire(task_id, self.owner)
            self.rows.update(
                (k, r) for k, r in self.committed_reviews.items() if k not in self.dirty
            )
        mine = [r for r in self.rows.values() if r.task_id == task_id]
        return sorted(mine, key=lambda r: r.created_at)

    async def add(self, review: Review) -> None:
        await asyncio.sleep(0)
        if any(_same_author(r, review) for r in self.rows.values()):
            raise Conflict("already reviewed", code="already_reviewed")
        self.rows[review.id] = review
        self.dirty.add(review.id)

    async def reveal(self, review: Review) -> bool:
        await asyncio.sleep(0)
        if self.rows[review.id].visible_at is not None:
            return False
        self.rows[review.id] = review
        self.dirty.add(review.id)
        return True

    async def visible_of(
        self, subject_id: UUID, *, limit: int, after: PageKey | None
    ) -> Page[Review]:
        await asyncio.sleep(0)
        mine = [
            r
            for r in self.rows.values()
            if r.subject_id == subject_id
            and r.visible_at is not None
            and (after is None or _shown(r) < (after.created_at, after.id))
        ]
        return _page(sorted(mine, key=_shown, reverse=True), _shown, limit)


def _same_author(a: Review, b: Review) -> bool:
    return (a.task_id, a.author_id) == (b.task_id, b.author_id)


def _shown(review: Review) -> tuple[datetime, UUID]:
    assert review.visible_at is not None
    return review.visible_at, review.id


class FakeRatings:
    def __init__(self, rows: dict[UUID, RatingSummary]) -> None:
        self.rows = rows
        self.dirty: set[UUID] = set()

    async def add(self, user_id: UUID, rating: int, now: datetime) -> None:
        await asyncio.sleep(0)
        self.rows[user_id] = self.rows.get(user_id, RatingSummary()).add(rating)
        self.dirty.add(user_id)

    async def of(self, user_id: UUID) -> RatingSummary:
        await asyncio.sleep(0)
        return self.rows.get(user_id, RatingSummary())


class FakePeople:
    """The people read model: (name, status) per id; deletion is final, as in SQL."""

    def __init__(
        self,
        rows: dict[UUID, tuple[str | None, PersonStatus]],
        ratings: FakeRatings,
        tasks: dict[UUID, Task],
    ) -> None:
        self.rows, self.ratings, self.tasks = rows, ratings, tasks

    async def named(self, user_id: UUID, name: str, now: datetime) -> None:
        _, status = self.rows.get(user_id, (None, PersonStatus.ACTIVE))
        if status is not PersonStatus.DELETED:
            self.rows[user_id] = (name, status)

    async def set_status(self, user_id: UUID, status: PersonStatus, now: datetime) -> None:
        name, was = self.rows.get(user_id, (None, PersonStatus.ACTIVE))
        if was is not PersonStatus.DELETED:
            deleted = status is PersonStatus.DELETED
            self.rows[user_id] = (DELETED_NAME if deleted else name, status)

    async def status(self, user_id: UUID) -> PersonStatus:
        await asyncio.sleep(0)
        return self.rows.get(user_id, (None, PersonStatus.ACTIVE))[1]

    async def cards(self, user_ids: Sequence[UUID]) -> dict[UUID, PersonCard]:
        cards = {}
        for uid in user_ids:
            rating = await self.ratings.of(uid)
            done = sum(
                1
                for t in self.tasks.values()
                if t.status is Status.COMPLETED and uid in (t.owner_id, t.assignee_id)
            )
            name = self.rows.get(uid, (None, PersonStatus.ACTIVE))[0]
            cards[uid] = PersonCard(uid, name, rating.mean, rating.count, done)
        return cards


class FakeEdits:
    def __init__(self, rows: dict[UUID, TaskEdit]) -> None:
        self.rows = rows

    async def add(self, edit: TaskEdit) -> None:
        await asyncio.sleep(0)
        self.rows[edit.id] = edit

    async def list(self, task_id: UUID, *, limit: int, after: PageKey | None) -> Page[TaskEdit]:
        await asyncio.sleep(0)
        mine = [
            e
            for e in self.rows.values()
            if e.task_id == task_id and (after is None or _key(e) > (after.created_at, after.id))
        ]
        return _page(sorted(mine, key=_key), _key, limit)


class FakeDisputes(_Tracked):
    def __init__(self, rows: dict[UUID, Dispute]) -> None:
        super().__init__()
        self.rows = rows

    async def for_task(self, task_id: UUID) -> Dispute | None:
        await asyncio.sleep(0)
        return next((d for d in self.rows.values() if d.task_id == task_id), None)

    async def add(self, dispute: Dispute) -> None:
        await asyncio.sleep(0)
        self.rows[dispute.id] = dispute
        self.dirty.add(dispute.id)

    async def save(self, dispute: Dispute) -> None:
        await self.add(dispute)

    async def list(self, query: DisputeFilter) -> Page[Dispute]:
        await asyncio.sleep(0)
        after = (query.after.created_at, query.after.id) if query.after else None
        found = [
            d
            for d in self.rows.values()
            if (d.resolved_at is not None) is query.resolved
            and (after is None or (d.created_at, d.id) > after)
        ]
        key = lambda d: (d.created_at, d.id)  # noqa: E731
        return _page(sorted(found, key=key), key, query.limit)


class FakeJobs(_Tracked):
    def __init__(
        self, rows: dict[UUID, Job], committed: dict[UUID, Job], locks: RowLocks, owner: object
    ) -> None:
        super().__init__(committed, locks, owner)
        self.rows = rows

    async def get(self, job_id: UUID) -> Job | None:
        await asyncio.sleep(0)
        return self.rows.get(job_id)

    async def add(self, *jobs: Job) -> None:
        await asyncio.sleep(0)
        for job in jobs:
            self.rows[job.id] = job
            self.dirty.add(job.id)

    async def save(self, job: Job, *, expected_version: int) -> None:
        await asyncio.sleep(0)
        await self.expect(job.id, expected_version)
        self.rows[job.id] = job
        self.dirty.add(job.id)

    async def delete(self, job_id: UUID) -> None:
        await asyncio.sleep(0)
        self.rows.pop(job_id, None)
        self.dirty.discard(job_id)
        self.deleted.add(job_id)

    async def list(self, query: JobFilter) -> Page[Job]:
        await asyncio.sleep(0)
        after = (query.after.created_at, query.after.id) if query.after else None
        found = [
            j
            for j in self.rows.values()
            if query.status in (None, j.status)
            and query.kind in (None, j.kind)
            and query.task_id in (None, j.task_id)
            and (after is None or _key(j) < after)
        ]
        return _page(sorted(found, key=_key, reverse=True), _key, query.limit)


class FakeOutbox:
    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    def add(self, event: DomainEvent) -> None:
        self.events.append(event)


class FakeUnitOfWork:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.committed = False

    async def __aenter__(self) -> Self:
        db = self.db
        offers = dict(db.offers)
        self.tasks = FakeTasks(dict(db.tasks), offers, db.tasks, db.locks, self)
        self.offers = FakeOffers(offers)
        self.reviews = FakeReviews(dict(db.reviews), db.reviews, db.locks, self)
        self.ratings = FakeRatings(dict(db.ratings))
        self.jobs = FakeJobs(dict(db.jobs), db.jobs, db.locks, self)
        self.edits = FakeEdits(dict(db.edits))
        self.disputes = FakeDisputes(dict(db.disputes))
        self.people = FakePeople(dict(db.people), self.ratings, self.tasks.rows)
        self.outbox = FakeOutbox()
        self.committed = False
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Nothing to undo: uncommitted work lives only in this object's copies.
        self.db.locks.release_all(self)

    def record(self, event: DomainEvent) -> None:
        self.outbox.add(event)

    async def commit(self) -> None:
        assert not self.committed, "a use case commits once"
        await asyncio.sleep(0)
        db = self.db
        self._check(self.tasks.expected, db.tasks)
        self._check(self.jobs.expected, db.jobs)
        self._check_unique(db)
        # Only what this transaction touched is written back, as a real database would.
        db.tasks.update({k: self.tasks.rows[k] for k in self.tasks.dirty})
        db.offers.update({k: self.offers.rows[k] for k in self.offers.dirty})
        db.reviews.update({k: self.reviews.rows[k] for k in self.reviews.dirty})
        db.ratings.update({k: self.ratings.rows[k] for k in self.ratings.dirty})
        db.jobs.update({k: self.jobs.rows[k] for k in self.jobs.dirty})
        db.edits.update(self.edits.rows)
        db.people.update(self.people.rows)
        db.disputes.update({k: self.disputes.rows[k] for k in self.disputes.dirty})
        for gone in self.jobs.deleted:
            db.jobs.pop(gone, None)
        db.events.extend(self.outbox.events)
        db.commits += 1
        self.committed = True
        db.locks.release_all(self)

    def _check_unique(self, db: FakeDatabase) -> None:
        # The unique indexes a racing transaction hits at commit on a real database.
        for offer in (self.offers.rows[k] for k in self.offers.dirty):
            if offer.status is OfferStatus.OPEN and any(
                o.id != offer.id
                and (o.task_id, o.tasker_id) == (offer.task_id, offer.tasker_id)
                and o.status is OfferStatus.OPEN
                for o in db.offers.values()
            ):
                raise Conflict("an open offer exists", code="offer_exists")
        for review in (self.reviews.rows[k] for k in self.reviews.dirty):
            if any(r.id != review.id and _same_author(r, review) for r in db.reviews.values()):
                raise Conflict("already reviewed", code="already_reviewed")

    @staticmethod
    def _check(expected: dict[UUID, int], committed: dict[UUID, Task] | dict[UUID, Job]) -> None:
        for item_id, version in expected.items():
            current = committed.get(item_id)
            if current is None or current.version != version:
                raise StaleVersion(f"{item_id} changed since it was loaded")


def stored(db: FakeDatabase, task: Task) -> Task:
    """The committed copy of a task (tests compare against what a later read would see)."""
    return db.tasks[task.id]


def put(db: FakeDatabase, *items: Task | Offer | Review | Job) -> None:
    """Seed committed rows directly, as if an earlier transaction wrote them."""
    for item in items:
        if isinstance(item, Task):
            db.tasks[item.id] = item
        elif isinstance(item, Offer):
            db.offers[item.id] = item
        elif isinstance(item, Review):
            db.reviews[item.id] = item
        else:
            db.jobs[item.id] = item


def with_job_status(job: Job, status: JobStatus) -> Job:
    return replace(job, status=status)
