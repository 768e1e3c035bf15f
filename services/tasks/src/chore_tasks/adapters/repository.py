"""Repositories on SQLAlchemy Core: load and save domain objects; never commit.

Saves are optimistic: `UPDATE ... WHERE id = :id AND version = :expected`. On PostgreSQL a
concurrent writer's row lock makes the second UPDATE wait, then match nothing; on SQLite
every transaction holds the write lock from BEGIN, so the loser simply loads the new state.
Either way the loser gets `StaleVersion` or the domain's refusal, never a lost update.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
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
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chore_common.errors import Conflict
from chore_common.paging import Page, PageKey
from chore_tasks.adapters.search import (
    browse_statement,
)
from chore_tasks.adapters.tables import (
    DISPUTES,
    JOBS,
    OFFERS,
    PEOPLE,
    REVIEWS,
    TASK_EDITS,
    TASKS,
    USER_RATINGS,
)
from chore_tasks.domain.edits import (
    TaskEdit,
)
from chore_tasks.domain.errors import (
    StaleVersion,
)
from chore_tasks.domain.jobs import (
    Job,
    JobKind,
    JobStatus,
)
from chore_tasks.domain.model import (
    Dispute,
    Location,
    Offer,
    OfferStatus,
    Review,
    Status,
    Task,
)
from chore_tasks.domain.people import DELETED_NAME, PersonCard, PersonStatus, status_of
from chore_tasks.domain.reports import Report
from chore_tasks.domain.reviews import (
    RatingSummary,
)
from chore_tasks.domain.search import (
    SearchKey,
)
from chore_tasks.usecases.ports import (
    DisputeFilter,
    JobFilter,
    SearchPage,
    TaskFilter,
)

T = TypeVar("T", Task, Offer, Job, Dispute, TaskEdit, Report)
R = TypeVar("R", Task, Offer, Review, Job, Dispute)

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


def dispute_of(row: Mapping[Any, Any]) -> Dispute:
    outcome = row["outcome"]
    return Dispute(**{**row, "outcome": Status(outcome) if outcome else None})


def job_of(row: Mapping[Any, Any]) -> Job:
    return Job(**{**row, "kind": JobKind(row["kind"]), "status": JobStatus(row["status"])})


def values_of(item: Task | Offer | Review | Job | Dispute | TaskEdit) -> dict[str, Any]:
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

    async def save(self, offer: Offer, *, expected_version: int) -> None:
        changes = values_of(offer)
        del changes["id"]
        stmt = update(OFFERS).where(OFFERS.c.id == offer.id, OFFERS.c.version == expected_version)
        try:
            # A savepoint: a reopened offer that meets its tasker's newer open one is refused
            # by the unique index, and the transaction must stay usable for the error.
            async with self.conn.begin_nested():
                result = await self.conn.execute(stmt.values(changes))
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise Conflict(
                    "that tasker already has an open offer on this task", code="offer_exists"
                ) from None
            raise
        if result.rowcount != 1:
            raise StaleVersion(f"offer {offer.id} changed since version {expected_version}")

    async def of_task(self, task_id: UUID, *statuses: OfferStatus) -> list[Offer]:
        """The task's offers in these statuses (all when none is given), oldest first."""
        query = select(OFFERS).where(OFFERS.c.task_id == task_id)
        if statuses:
            query = query.where(OFFERS.c.status.in_([s.value for s in statuses]))
        rows = await self.conn.execute(query.order_by(*_ordered(OFFERS, newest_first=False)))
        return [offer_of(row) for row in rows.mappings()]

    async def has_open(self, task_id: UUID, tasker_id: UUID) -> bool:
        return await self._any(
            OFFERS.c.task_id == task_id,
            OFFERS.c.tasker_id == tasker_id,
            OFFERS.c.status == OfferStatus.OPEN.value,
        )

    async def exists(self, task_id: UUID, tasker_id: UUID) -> bool:
        return await self._any(OFFERS.c.task_id == task_id, OFFERS.c.tasker_id == tasker_id)

    async def open_of_tasker(self, tasker_id: UUID) -> list[Offer]:
        """Every open offer the tasker has, on any task, oldest first."""
        query = select(OFFERS).where(
            OFFERS.c.tasker_id == tasker_id, OFFERS.c.status == OfferStatus.OPEN.value
        )
        rows = await self.conn.execute(query.order_by(*_ordered(OFFERS, newest_first=False)))
        return [offer_of(row) for row in rows.mappings()]

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

    async def of_task(self, task_id: UUID, *, lock: bool = False) -> list[Review]:
        if lock:
            # The task's row lock puts its two reviewers one after the other on PostgreSQL,
            # so the second always sees the first (SQLite's BEGIN lock already does).
            await self.conn.execute(
                select(TASKS.c.id).where(TASKS.c.id == task_id).with_for_update()
            )
        query = select(REVIEWS).where(REVIEWS.c.task_id == task_id).order_by(REVIEWS.c.created_at)
        rows = (await self.conn.execute(query)).mappings().all()
        return [review_of(row) for row in rows]

    async def add(self, review: Review) -> None:
        refusal = "you have already reviewed this task"
        await _insert_unique(
            self.conn, _INSERT_REVIEW, values_of(review), refusal, code="already_reviewed"
        )

    async def reveal(self, review: Review) -> bool:
        """Set `visible_at` unless another transaction already did; True if this one did."""
        result = await self.conn.execute(
            update(REVIEWS)
            .where(REVIEWS.c.id == review.id, REVIEWS.c.visible_at.is_(None))
            .values(visible_at=review.visible_at)
        )
        return result.rowcount == 1

    async def visible_of(
        self, subject_id: UUID, *, limit: int, after: PageKey | None
    ) -> Page[Review]:
        """The subject's visible reviews, most recently published first, keyed on
        (visible_at, id)."""
        conditions = [REVIEWS.c.subject_id == subject_id, REVIEWS.c.visible_at.is_not(None)]
        if after is not None:
            key = tuple_(REVIEWS.c.visible_at, REVIEWS.c.id)
            conditions.append(key < (after.created_at, after.id))
        query = (
            select(REVIEWS)
            .where(*conditions)
            .order_by(REVIEWS.c.visible_at.desc(), REVIEWS.c.id.desc())
            .limit(limit + 1)
        )
        rows = (await self.conn.execute(query)).mappings().all()
        items = [review_of(row) for row in rows[:limit]]
        if len(rows) <= limit:
            return Page(items, None)
        last = items[-1]
        assert last.visible_at is not None
        return Page(items, PageKey(last.visible_at, last.id))


_STARS = tuple(f"stars_{n}" for n in range(1, 6))


class RatingRepository:
    """`user_ratings`: one row per reviewed user, added to as reviews become visible."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, user_id: UUID, rating: int, now: datetime) -> None:
        """Count one more visible `rating` for `user_id`, atomically (an upsert adding to
        the row, so concurrent reveals for one user never lose a count)."""
        one = {name: int(name == f"stars_{rating}") for name in _STARS}
        values = {"user_id": user_id, "count": 1, "total": rating, **one, "updated_at": now}
        table = USER_RATINGS
        upsert = (sqlite_insert if self.conn.dialect.name == "sqlite" else pg_insert)(table)
        stmt = upsert.values(values).on_conflict_do_update(
            index_elements=[table.c.user_id],
            set_={
                **{
                    name: table.c[name] + upsert.excluded[name]
                    for name in ("count", "total", *_STARS)
                },
                "updated_at": upsert.excluded.updated_at,
            },
        )
        await self.conn.execute(stmt)

    async def of(self, user_id: UUID) -> RatingSummary:
        row = (
            (await self.conn.execute(select(USER_RATINGS).where(USER_RATINGS.c.user_id == user_id)))
            .mappings()
            .first()
        )
        if row is None:
            return RatingSummary()
        stars = tuple(row[name] for name in _STARS)
        return RatingSummary(row["count"], row["total"], stars)


_DELETED = PersonStatus.DELETED.value


class PeopleRepository:
    """`people`: names and statuses from auth's events. A deleted person's row is final:
    the upserts below leave it alone (`WHERE status <> 'deleted'`)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.changed: list[UUID] = []  # whose status was set: the read caches hear of it

    async def named(self, user_id: UUID, name: str, now: datetime) -> None:
        await self._upsert(user_id, {"name": name, "updated_at": now}, status="active")

    async def set_status(self, user_id: UUID, status: PersonStatus, now: datetime) -> None:
        self.changed.append(user_id)
        values: dict[str, Any] = {"status": status.value, "updated_at": now}
        if status is PersonStatus.DELETED:
            values["name"] = DELETED_NAME
        await self._upsert(user_id, values, status=status.value)

    async def _upsert(self, user_id: UUID, values: dict[str, Any], *, status: str) -> None:
        upsert = (sqlite_insert if self.conn.dialect.name == "sqlite" else pg_insert)(PEOPLE)
        stmt = upsert.values({"user_id": user_id, "status": status, "name": None, **values})
        await self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[PEOPLE.c.user_id], set_=values, where=PEOPLE.c.status != _DELETED
            )
        )

    async def status(self, user_id: UUID) -> PersonStatus:
        found = await self.conn.scalar(select(PEOPLE.c.status).where(PEOPLE.c.user_id == user_id))
        return PersonStatus.ACTIVE if found is None else status_of(found)

    async def cards(self, user_ids: Sequence[UUID]) -> dict[UUID, PersonCard]:
        """Each id's card: name from `people`, rating from `user_ratings`, and how many
        completed tasks they took part in (as owner or assignee)."""
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        names = await self.conn.execute(
            select(PEOPLE.c.user_id, PEOPLE.c.name).where(PEOPLE.c.user_id.in_(ids))
        )
        name_of = {row[0]: row[1] for row in names}
        ratings = await self.conn.execute(
            select(USER_RATINGS.c.user_id, USER_RATINGS.c.count, USER_RATINGS.c.total).where(
                USER_RATINGS.c.user_id.in_(ids)
            )
        )
        rating_of = {row[0]: RatingSummary(row[1], row[2]) for row in ratings}
        done = await self._completed(ids)
        return {
            uid: PersonCard(
                id=uid,
                name=name_of.get(uid),
                rating_mean=rating_of.get(uid, RatingSummary()).mean,
                rating_count=rating_of.get(uid, RatingSummary()).count,
                completed_count=done.get(uid, 0),
            )
            for uid in ids
        }

    async def _completed(self, ids: list[UUID]) -> dict[UUID, int]:
        completed = TASKS.c.status == Status.COMPLETED.value
        counts: dict[UUID, int] = {}
        for column in (TASKS.c.owner_id, TASKS.c.assignee_id):
            query = select(column, func.count()).where(completed, column.in_(ids)).group_by(column)
            for uid, count in await self.conn.execute(query):
                counts[uid] = counts.get(uid, 0) + int(count)
        return counts


def edit_of(row: Mapping[Any, Any]) -> TaskEdit:
    return TaskEdit(**row)


class TaskEditRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, edit: TaskEdit) -> None:
        await self.conn.execute(insert(TASK_EDITS), values_of(edit))

    async def list(self, task_id: UUID, *, limit: int, after: PageKey | None) -> Page[TaskEdit]:
        conditions = [
            TASK_EDITS.c.task_id == task_id,
            _keyset(TASK_EDITS, after, newest_first=False),
        ]
        stmt = (
            select(TASK_EDITS)
            .where(*conditions)
            .order_by(*_ordered(TASK_EDITS, newest_first=False))
        )
        return await _page(self.conn, stmt, limit, edit_of)


class DisputeRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def for_task(self, task_id: UUID) -> Dispute | None:
        query = select(DISPUTES).where(DISPUTES.c.task_id == task_id)
        return await _first(self.conn, query, dispute_of)

    async def add(self, dispute: Dispute) -> None:
        await self.conn.execute(insert(DISPUTES), values_of(dispute))

    async def save(self, dispute: Dispute) -> None:
        # The task's own versioned save, in the same transaction, orders concurrent moves.
        changes = values_of(dispute)
        del changes["id"]
        await self.conn.execute(update(DISPUTES).where(DISPUTES.c.id == dispute.id).values(changes))

    async def list(self, query: DisputeFilter) -> Page[Dispute]:
        state = (
            DISPUTES.c.resolved_at.is_not(None)
            if query.resolved
            else DISPUTES.c.resolved_at.is_(None)
        )
        conditions = [state, _keyset(DISPUTES, query.after, newest_first=False)]
        order = _ordered(DISPUTES, newest_first=False)
        stmt = select(DISPUTES).where(*conditions).order_by(*order)
        return await _page(self.conn, stmt, query.limit, dispute_of)


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
