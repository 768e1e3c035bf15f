"""GET /tasks as SQL: filters, full-text words, distance and the keyset of each sort order.

One statement for both databases except where they differ: full text is PostgreSQL's
generated `tasks.search` tsvector (`plainto_tsquery('simple')`, ranked by `ts_rank`) or
SQLite's FTS5 table `tasks_fts` (ranked by bm25); both cut words as `domain.search.terms`
does. Distance is the haversine formula in SQL on both (SQLite's math functions), after a
latitude/longitude box an index can use; it matches `domain.search.haversine_km`.
Statements are built once per shape of query and bound with each query's values: building
one costs more than PostgreSQL takes to answer it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    FromClause,
    Integer,
    Select,
    String,
    Uuid,
    bindparam,
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
from chore_tasks.adapters.tables import OFFERS, PEOPLE, TASKS
from chore_tasks.domain.model import Role, Status
from chore_tasks.domain.people import HIDDEN
from chore_tasks.domain.search import (
    DESCENDING,
    EARTH_RADIUS_KM,
    NO_DUE,
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


class Shape(NamedTuple):
    """What a query's statement depends on (which filters, which sort), not its values:
    queries of one shape share one statement, built once, bound with their values."""

    dialect: str
    sees_all: bool
    given: tuple[str, ...]  # the names of the filters given, in `_FILTERS` order
    words: bool
    near: bool
    boxed: bool
    sort: Sort
    after: bool


def browse_statement(query: TaskFilter, dialect: str) -> tuple[Select[Any], dict[str, Any]]:
    """The page's rows (one more than `limit`), each with its sort key as `sort_key`, and
    the values to bind."""
    values = _values(query, dialect)
    shape = Shape(
        dialect=dialect,
        sees_all=query.viewer.role in (Role.ADMIN, Role.SYSTEM),
        given=tuple(name for name in _FILTERS if name in values),
        words="words" in values,
        near=query.near is not None,
        boxed="lat_min" in values,
        sort=query.sort,
        after=query.after is not None,
    )
    return _statement(shape), values


def _values(query: TaskFilter, dialect: str) -> dict[str, Any]:
    values: dict[str, Any] = {"viewer": query.viewer.user_id, "limit": query.limit + 1}
    given = {
        "status": query.status.value if query.status is not None else None,
        "categories": list(query.categories) or None,
        "owner_id": query.owner_id,
        "assignee_id": query.assignee_id,
        "budget_min": query.budget_min,
        "budget_max": query.budget_max,
        "due_after": query.due_after,
        "due_before": query.due_before,
    }
    values.update((name, value) for name, value in given.items() if value is not None)
    if query.words:
        # SQLite: each word quoted, an FTS5 phrase of one token, all of them required.
        quoted = (f'"{word}"' for word in query.words)
        values["words"] = " ".join(query.words if dialect == "postgresql" else quoted)
    if query.near is not None:
        near = query.near
        values.update(lat=near.lat, lon=near.lon, radius_km=near.radius_km)
        box = bounding_box(near)
        if box is not None:
            values.update(zip(("lat_min", "lat_max", "lon_min", "lon_max"), box, strict=True))
    if query.after is not None:
        values.update(after_key=query.after.value, after_id=query.after.id)
    return values


@lru_cache(maxsize=512)
def _statement(shape: Shape) -> Select[Any]:
    source: FromClause = TASKS
    conditions = _visible(shape) + [_FILTERS[name] for name in shape.given]
    rank: ColumnElement[Any] | None = None
    if shape.words:
        source, match, rank = _full_text(shape.dialect)
        conditions.append(match)
    distance: ColumnElement[Any] | None = None
    if shape.near:
        distance = _distance_km(shape.dialect)
        conditions += [*_box(shape.boxed), distance <= bindparam("radius_km", type_=Float())]
    key = _sort_key(shape.sort, rank=rank, distance=distance)
    descending = shape.sort in DESCENDING
    if shape.after:
        after = tuple_(
            bindparam("after_key", type_=_KEY_TYPES[shape.sort]),
            bindparam("after_id", type_=Uuid()),
        )
        row = tuple_(key, TASKS.c.id)
        conditions.append(row < after if descending else row > after)
    return (
        select(TASKS, key.label("sort_key"))
        .select_from(source)
        .where(*conditions)
        .order_by(*((key.desc(), TASKS.c.id.desc()) if descending else (key, TASKS.c.id)))
        .limit(bindparam("limit", type_=Integer()))
    )


def _visible(shape: Shape) -> list[ColumnElement[bool]]:
    """policies.can_view, as SQL: open, mine, assigned to me, or I offered on it; and no open
    task of an owner who is suspended, banned or deleted (domain/people.py)."""
    if shape.sees_all:
        return []
    viewer = bindparam("viewer", type_=Uuid())
    offered = exists().where(OFFERS.c.task_id == TASKS.c.id, OFFERS.c.tasker_id == viewer)
    hidden_owner = exists().where(
        PEOPLE.c.user_id == TASKS.c.owner_id,
        PEOPLE.c.status.in_(sorted(s.value for s in HIDDEN)),
    )
    return [
        or_(
            TASKS.c.status == Status.OPEN.value,
            TASKS.c.owner_id == viewer,
            TASKS.c.assignee_id == viewer,
            offered,
        ),
        or_(TASKS.c.status != Status.OPEN.value, ~hidden_owner),
    ]


_C = TASKS.c
# Each filter's condition, bound by the name of its value in `_values`.
_FILTERS: dict[str, ColumnElement[bool]] = {
    "status": _C.status == bindparam("status", type_=String()),
    "categories": _C.category.in_(bindparam("categories", expanding=True)),
    "owner_id": _C.owner_id == bindparam("owner_id", type_=Uuid()),
    "assignee_id": _C.assignee_id == bindparam("assignee_id", type_=Uuid()),
    "budget_min": _C.budget_cents >= bindparam("budget_min", type_=BigInteger()),
    "budget_max": _C.budget_cents <= bindparam("budget_max", type_=BigInteger()),
    "due_after": _C.due_at >= bindparam("due_after", type_=UtcDateTime()),
    "due_before": _C.due_at <= bindparam("due_before", type_=UtcDateTime()),
}


def _full_text(dialect: str) -> tuple[FromClause, ColumnElement[bool], ColumnElement[Any]]:
    """(what to select from, the match condition, the rank: higher is better)."""
    words = bindparam("words", type_=String())
    if dialect == "postgresql":
        tsquery = func.plainto_tsquery(literal_column("'simple'::regconfig"), words)
        return TASKS, _TS_SEARCH.op("@@")(tsquery), func.ts_rank(_TS_SEARCH, tsquery)
    fts: ColumnElement[Any] = literal_column("tasks_fts")
    source = TASKS.join(FTS, FTS.c.task_id == TASKS.c.id)
    # bm25 is lower for better matches; weighted as PostgreSQL's A/B: the title counts double.
    return source, fts.op("MATCH")(words), -func.bm25(fts, 0.0, 2.0, 1.0)


def _distance_km(dialect: str) -> ColumnElement[Any]:
    """haversine_km(near, task), term by term as `domain.search.haversine_km` computes it."""
    lat, lon = TASKS.c.lat, TASKS.c.lon
    near_lat, near_lon = bindparam("lat", type_=Float()), bindparam("lon", type_=Float())
    dlat = func.radians(lat) - func.radians(near_lat)
    dlon = func.radians(lon - near_lon)
    sin_lat, sin_lon = func.sin(dlat / 2), func.sin(dlon / 2)
    h = (
        sin_lat * sin_lat
        + func.cos(func.radians(near_lat)) * func.cos(func.radians(lat)) * sin_lon * sin_lon
    )
    # least() on PostgreSQL, the scalar min() on SQLite: rounding must not take asin past 1.
    capped = func.least(1.0, h) if dialect == "postgresql" else func.min(1.0, h)
    return 2 * EARTH_RADIUS_KM * func.asin(func.sqrt(capped))


def _box(boxed: bool) -> list[ColumnElement[bool]]:
    """The bounding box an index can use; without one (over a pole or the antimeridian),
    every located task."""
    lat, lon = TASKS.c.lat, TASKS.c.lon
    if not boxed:
        return [lat.is_not(None), lon.is_not(None)]
    return [
        lat.between(bindparam("lat_min", type_=Float()), bindparam("lat_max", type_=Float())),
        lon.between(bindparam("lon_min", type_=Float()), bindparam("lon_max", type_=Float())),
    ]


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
