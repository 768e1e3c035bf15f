"""GET /tasks as SQL: filters, full-text words, distance and the keyset of each sort order.

One statement for both databases except where they differ: full text is PostgreSQL's
generated `tasks.search` tsvector (`plainto_tsquery('simple')`, ranked by `ts_rank`) or
SQLite's FTS5 table `tasks_fts` (ranked by bm25); both cut words as `domain.search.terms`
does. Distance is the haversine formula in SQL on both (SQLite's math functions), after a
latitude/longitude box an index can use; it matches `domain.search.haversine_km`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    FromClause,
    Integer,
    Select,
    Uuid,
    column,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    tuple_,
)
from sqlalchemy.types import TypeEngine

from chore_common.db.types import UtcDateTime
from chore_tasks.adapters.tables import OFFERS, TASKS
from chore_tasks.domain.model import Role, Status
from chore_tasks.domain.search import (
    DESCENDING,
    EARTH_RADIUS_KM,
    NO_DUE,
    Near,
    Sort,
    bounding_box,
)
from chore_tasks.usecases.ports import TaskFilter

FTS = table("tasks_fts", column("task_id"))
_TS_SEARCH: ColumnElement[Any] = literal_column("tasks.search")
_KEY_TYPES: dict[Sort, TypeEngine[Any]] = {
    Sort.NEWEST: UtcDateTime(),
    Sort.BUDGET: Integer(),
    Sort.DUE: UtcDateTime(),
    Sort.DISTANCE: Float(),
    Sort.RELEVANCE: Float(),
}


def browse_statement(query: TaskFilter, dialect: str) -> Select[Any]:
    """The page's rows (one more than `limit`), each with its sort key as `sort_key`."""
    source: FromClause = TASKS
    conditions = _filters(query)
    rank: ColumnElement[Any] | None = None
    if query.words:
        source, match, rank = _full_text(query.words, dialect)
        conditions.append(match)
    distance: ColumnElement[Any] | None = None
    if query.near is not None:
        distance = _distance_km(query.near, dialect)
        conditions += [*_box(query.near), distance <= query.near.radius_km]
    key = _sort_key(query.sort, rank=rank, distance=distance)
    ordered = (key.desc(), TASKS.c.id.desc()) if query.sort in DESCENDING else (key, TASKS.c.id)
    if query.after is not None:
        after = query.after
        bound = tuple_(literal(after.value, _KEY_TYPES[query.sort]), literal(after.id, Uuid()))
        row = tuple_(key, TASKS.c.id)
        conditions.append(row < bound if query.sort in DESCENDING else row > bound)
    return (
        select(TASKS, key.label("sort_key"))
        .select_from(source)
        .where(*conditions)
        .order_by(*ordered)
        .limit(query.limit + 1)
    )


def _filters(query: TaskFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    viewer = query.viewer
    if viewer.role not in (Role.ADMIN, Role.SYSTEM):
        # policies.can_view, as SQL: open, mine, assigned to me, or I offered on it.
        offered = exists().where(
            OFFERS.c.task_id == TASKS.c.id, OFFERS.c.tasker_id == viewer.user_id
        )
        conditions.append(
            or_(
                TASKS.c.status == Status.OPEN.value,
                TASKS.c.owner_id == viewer.user_id,
                TASKS.c.assignee_id == viewer.user_id,
                offered,
            )
        )
    return conditions + _given(query)


def _given(query: TaskFilter) -> list[ColumnElement[bool]]:
    """The condition of each filter the query gives."""
    c = TASKS.c
    given: list[ColumnElement[bool]] = []
    if query.status is not None:
        given.append(c.status == query.status.value)
    if query.categories:
        given.append(c.category.in_(query.categories))
    if query.owner_id is not None:
        given.append(c.owner_id == query.owner_id)
    if query.assignee_id is not None:
        given.append(c.assignee_id == query.assignee_id)
    if query.budget_min is not None:
        given.append(c.budget_cents >= query.budget_min)
    if query.budget_max is not None:
        given.append(c.budget_cents <= query.budget_max)
    if query.due_after is not None:
        given.append(c.due_at >= query.due_after)
    if query.due_before is not None:
        given.append(c.due_at <= query.due_before)
    return given


def _full_text(
    words: tuple[str, ...], dialect: str
) -> tuple[FromClause, ColumnElement[bool], ColumnElement[Any]]:
    """(what to select from, the match condition, the rank: higher is better)."""
    if dialect == "postgresql":
        tsquery = func.plainto_tsquery(literal_column("'simple'::regconfig"), " ".join(words))
        return TASKS, _TS_SEARCH.op("@@")(tsquery), func.ts_rank(_TS_SEARCH, tsquery)
    # Each word quoted: an FTS5 phrase of one token, all of them required.
    fts_query = " ".join(f'"{word}"' for word in words)
    fts: ColumnElement[Any] = literal_column("tasks_fts")
    source = TASKS.join(FTS, FTS.c.task_id == TASKS.c.id)
    # bm25 is lower for better matches; weighted as PostgreSQL's A/B: the title counts double.
    return source, fts.op("MATCH")(fts_query), -func.bm25(fts, 0.0, 2.0, 1.0)


def _distance_km(near: Near, dialect: str) -> ColumnElement[Any]:
    """haversine_km(near, task), term by term as `domain.search.haversine_km` computes it."""
    lat, lon = TASKS.c.lat, TASKS.c.lon
    dlat = func.radians(lat) - func.radians(literal(near.lat, Float()))
    dlon = func.radians(lon - literal(near.lon, Float()))
    sin_lat, sin_lon = func.sin(dlat / 2), func.sin(dlon / 2)
    h = (
        sin_lat * sin_lat
        + func.cos(func.radians(literal(near.lat, Float())))
        * func.cos(func.radians(lat))
        * sin_lon
        * sin_lon
    )
    # least() on PostgreSQL, the scalar min() on SQLite: rounding must not take asin past 1.
    capped = func.least(1.0, h) if dialect == "postgresql" else func.min(1.0, h)
    return 2 * EARTH_RADIUS_KM * func.asin(func.sqrt(capped))


def _box(near: Near) -> list[ColumnElement[bool]]:
    box = bounding_box(near)
    if box is None:
        return [TASKS.c.lat.is_not(None), TASKS.c.lon.is_not(None)]
    lat_min, lat_max, lon_min, lon_max = box
    return [TASKS.c.lat.between(lat_min, lat_max), TASKS.c.lon.between(lon_min, lon_max)]


def _sort_key(
    sort: Sort, *, rank: ColumnElement[Any] | None, distance: ColumnElement[Any] | None
) -> ColumnElement[Any]:
    if sort is Sort.BUDGET:
        return TASKS.c.budget_cents
    if sort is Sort.DUE:
        return func.coalesce(TASKS.c.due_at, literal(NO_DUE, UtcDateTime()), type_=UtcDateTime())
    if sort is Sort.DISTANCE:
        assert distance is not None  # check_search refused sort=distance without near
        return distance
    if sort is Sort.RELEVANCE:
        assert rank is not None  # check_search refused sort=relevance without q
        return rank
    return TASKS.c.created_at
