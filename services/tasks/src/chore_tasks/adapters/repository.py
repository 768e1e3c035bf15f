"""Repositories on SQLAlchemy Core: load and save domain objects; never commit.

Saves are optimistic: `UPDATE ... WHERE id = :id AND version = :expected`. On PostgreSQL a
concurrent writer's row lock makes the second UPDATE wait, then match nothing; on SQLite
every transaction holds the write lock from BEGIN, so the loser simply loads the new state.
Either way the loser gets `StaleVersion` or the domain's refusal, never a lost update.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chore_common.errors import Conflict
from chore_common.paging import Page, PageKey
from chore_tasks.adapters.search import browse_statement
from chore_tasks.adapters.tables import JOBS, OFFERS, REVIEWS, TASKS
from chore_tasks.domain.errors import StaleVersion
from chore_tasks.domain.jobs import Job, JobKind, JobStatus
from chore_tasks.domain.model import Location, Offer, OfferStatus, Review, Status, Task
from chore_tasks.domain.search import SearchKey
from chore_tasks.usecases.ports import JobFilter, SearchPage, TaskFilter

T = TypeVar("T", Task, Offer, Job)
R = TypeVar("R", Task, Offer, Review, Job)

# Built once: SQLAlchemy then reuses their compiled form instead of re-deriving a cache key
# from fresh per-row values on every request.
_INSERT_TASK = insert(TASKS)
_SAVE_TASK = update(TASKS).where(
    TASKS.c.id == bindparam("b_id"), TASKS.c.version == bindparam("b_expected")
)
_GET_TASK = select(TASKS).where(TASKS.c.id == bindparam("b_id"))
_INSERT_OFFER = insert(OFFERS)
_INSERT_REVIEW = insert(REVIEWS)
# Rows of kinds a newer version wrote are not this version's to show or touch.
_KNOWN_KIND = JOBS.c.kind.in_([kind.value for kind in JobKind])
_INSERT_JOB = insert(JOBS)
_SAVE_JOB = update(JOBS).where(
    JOBS.c.id == bindparam("b_id"), JOBS.c.version == bindparam("b_expected")
)


_LOCATION_COLUMNS = ("lat", "lon", "address")
_TASK_FIELDS = frozenset(Task.__dataclass_fields__) - {"location"}


def task_of(row: Mapping[Any, Any]) -> Task:
    lat, lon, address = row["lat"], row["lon"], row["address"]
    has_location = lat is not None or lon is not None or address is not None
    fields = {name: row[name] for name in _TASK_FIELDS}
    fields["status"] = Status(row["status"])
    fields["location"] = Location(lat=lat, lon=lon, address=address) if has_location else None
    return Task(**fields)


def offer_of(row: Mapping[Any, Any]) -> Offer:
    return Offer(**{**row, "status": OfferStatus(row["status"])})


def review_of(row: Mapping[Any, Any]) -> Review:
    return Review(**row)


def job_of(row: Mapping[Any, Any]) -> Job:
    return Job(**{**row, "kind": JobKind(row["kind"]), "status": JobStatus(row["status"])})


def values_of(item: Task | Offer | Review | Job) -> dict[str, Any]:
    values = {name: getattr(item, name) for name in item.__dataclass_fields__}
    if isinstance(item, Task):
        # One dataclass field, three columns.
        location = values.pop("location")
        for name in _LOCATION_COLUMNS:
            values[name] = getattr(location, name) if location is not None else None
    return values


def _keyset(table: Table, after: PageKey | None, *, newest_first: bool) -> ColumnElement[bool]:
    if after is None:
        return and_(True)
    key = tuple_(table.c.created_at, table.c.id)
    return (
        key < (after.created_at, after.id) if newest_first else key > (after.created_at, after.id)
    )


async def _page(
    conn: AsyncConnection,
    query: Select[Any],
    limit: int,
    make: Callable[[Mapping[Any, Any]], T],
) -> Page[T]:
    """Fetch one more than asked: its presence says whether there is a next page."""
    rows = (await conn.execute(query.limit(limit + 1))).mappings().all()
    items = [make(row) for row in rows[:limit]]
    if len(rows) <= limit:
        return Page(items, None)
    last = items[-1]
    return Page(items, PageKey(last.created_at, last.id))


def _ordered(table: Table, *, newest_first: bool) -> Sequence[Any]:
    if newest_first:
        return (table.c.created_at.desc(), table.c.id.desc())
    return (table.c.created_at, table.c.id)


def _is_unique_violation(exc: IntegrityError) -> bool:
    text = str(exc.orig).lower()
    return "unique" in text or "duplicate key" in text


async def _first(
    conn: AsyncConnection, query: Select[Any], make: Callable[[Mapping[Any, Any]], R]
) -> R | None:
    row = (await conn.execute(query)).mappings().first()
    return make(row) if row else None


async def _insert_unique(
    conn: AsyncConnection, stmt: Insert, values: dict[str, Any], refusal: str, *, code: str
) -> None:
    """Insert a row a unique index may refuse; the refusal becomes `Conflict(refusal, code)`."""
    try:
        # A savepoint, so the unique index's refusal leaves the transaction usable.
        async with conn.begin_nested():
            await conn.execute(stmt, values)
    except IntegrityError as exc:
        if _is_unique_violation(exc):
            raise Conflict(refusal, code=code) from None
        raise


def _rows(items: Sequence[Task | Job]) -> dict[str, Any] | list[dict[str, Any]]:
    """One row's values, or many for one executemany round trip (group commit)."""
    if len(items) == 1:
        return values_of(items[0])
    return [values_of(item) for item in items]


class TaskRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, task_id: UUID) -> Task | None:
        row = (await self.conn.execute(_GET_TASK, {"b_id": task_id})).mappings().first()
        return task_of(row) if row else None

    async def add(self, *tasks: Task) -> None:
        await self.conn.execute(_INSERT_TASK, _rows(tasks))

    async def save(self, task: Task, *, expected_version: int) -> None:
        changes = values_of(task)
        del changes["id"]
        result = await self.conn.execute(
            _SAVE_TASK.values(changes), {"b_id": task.id, "b_expected": expected_version}
        )
        if result.rowcount != 1:
            raise StaleVersion(f"task {task.id} changed since version {expected_version}")

    async def browse(self, query: TaskFilter) -> SearchPage:
        """One more row than asked: its presence says whether there is a next page."""
        stmt, values = browse_statement(query, self.conn.dialect.name)
        rows = (await self.conn.execute(stmt, values)).mappings().all()
        items = [task_of(row) for row in rows[: query.limit]]
        if len(rows) <= query.limit:
            return SearchPage(items, None)
        last = rows[query.limit - 1]
        return SearchPage(items, SearchKey(query.sort, last["sort_key"], last["id"]))


class OfferRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, offer_id: UUID) -> Offer | None:
        return await _first(self.conn, select(OFFERS).where(OFFERS.c.id == offer_id), offer_of)

    async def add(self, offer: Offer) -> None:
        refusal = "you already have an open offer on this task"
        await _insert_unique(
            self.conn, _INSERT_OFFER, values_of(offer), refusal, code="offer_exists"
        )

    async def save(self, offer: Offer) -> None:
        changes = values_of(offer)
        del changes["id"]
        await self.conn.execute(update(OFFERS).where(OFFERS.c.id == offer.id).values(changes))

    async def has_open(self, task_id: UUID, tasker_id: UUID) -> bool:
        return await self._any(
            OFFERS.c.task_id == task_id,
            OFFERS.c.tasker_id == tasker_id,
            OFFERS.c.status == OfferStatus.OPEN.value,
        )

    async def exists(self, task_id: UUID, tasker_id: UUID) -> bool:
        return await self._any(OFFERS.c.task_id == task_id, OFFERS.c.tasker_id == tasker_id)

    async def list(
        self, task_id: UUID, *, tasker_id: UUID | None, limit: int, after: PageKey | None
    ) -> Page[Offer]:
        conditions = [OFFERS.c.task_id == task_id, _keyset(OFFERS, after, newest_first=False)]
        if tasker_id is not None:
            conditions.append(OFFERS.c.tasker_id == tasker_id)
        stmt = select(OFFERS).where(*conditions).order_by(*_ordered(OFFERS, newest_first=False))
        return await _page(self.conn, stmt, limit, offer_of)

    async def _any(self, *conditions: ColumnElement[bool]) -> bool:
        found = await self.conn.execute(select(OFFERS.c.id).where(*conditions).limit(1))
        return found.first() is not None


class ReviewRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def for_task(self, task_id: UUID) -> Review | None:
        query = select(REVIEWS).where(REVIEWS.c.task_id == task_id)
        return await _first(self.conn, query, review_of)

    async def add(self, review: Review) -> None:
        refusal = "this task has already been reviewed"
        await _insert_unique(
            self.conn, _INSERT_REVIEW, values_of(review), refusal, code="already_reviewed"
        )


class JobRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, job_id: UUID) -> Job | None:
        return await _first(self.conn, select(JOBS).where(JOBS.c.id == job_id, _KNOWN_KIND), job_of)

    async def add(self, *jobs: Job) -> None:
        await self.conn.execute(_INSERT_JOB, _rows(jobs))

    async def save(self, job: Job, *, expected_version: int) -> None:
        changes = values_of(job)
        del changes["id"]
        result = await self.conn.execute(
            _SAVE_JOB.values(changes), {"b_id": job.id, "b_expected": expected_version}
        )
        if result.rowcount != 1:
            raise StaleVersion(f"job {job.id} changed since version {expected_version}")

    async def delete(self, job_id: UUID) -> None:
        await self.conn.execute(delete(JOBS).where(JOBS.c.id == job_id))

    async def list(self, query: JobFilter) -> Page[Job]:
        conditions = [_keyset(JOBS, query.after, newest_first=True), _KNOWN_KIND]
        if query.status is not None:
            conditions.append(JOBS.c.status == query.status.value)
        if query.kind is not None:
            conditions.append(JOBS.c.kind == query.kind.value)
        if query.task_id is not None:
            conditions.append(JOBS.c.task_id == query.task_id)
        stmt = select(JOBS).where(*conditions).order_by(*_ordered(JOBS, newest_first=True))
        return await _page(self.conn, stmt, query.limit, job_of)
