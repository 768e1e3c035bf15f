"""Finding tasks: sort orders, the keyset a page ends on, distance and search words.

Pure rules the repository turns into SQL on both databases, and tests turn into a brute-force
filter over the same rows: both must agree.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

from chore_common.errors import InvalidInput

EARTH_RADIUS_KM = 6371.0
RADIUS_MAX_KM = 500.0
TERMS_MAX = 8
# Tasks without a due date sort after every dated one: the keyset needs a value for them.
NO_DUE = datetime(9999, 12, 31, tzinfo=UTC)
# Letters and digits: how PostgreSQL's 'simple' parser and SQLite's unicode61 tokenizer both
# cut plain words (an underscore or a hyphen separates words in both).
_WORD = re.compile(r"[^\W_]+")


class Sort(StrEnum):
    NEWEST = "newest"  # created_at, newest first
    BUDGET = "budget"  # budget_cents, highest first
    DUE = "due"  # due_at, soonest first, undated last
    DISTANCE = "distance"  # from `near`, nearest first
    RELEVANCE = "relevance"  # full-text rank of `q`, best first


DESCENDING: frozenset[Sort] = frozenset({Sort.NEWEST, Sort.BUDGET, Sort.RELEVANCE})
# The type of each sort's key value, as the cursor carries it.
KEY_TYPES: dict[Sort, type] = {
    Sort.NEWEST: datetime,
    Sort.BUDGET: int,
    Sort.DUE: datetime,
    Sort.DISTANCE: float,
    Sort.RELEVANCE: float,
}


@dataclass(frozen=True, slots=True)
class Near:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True, slots=True)
class SearchKey:
    """Where a page ended under `sort`: rows after (value, id) in that order come next."""

    sort: Sort
    value: datetime | int | float
    id: UUID


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on a spherical Earth; the SQL of both databases computes the same."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlat, dlon = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


def bounding_box(near: Near) -> tuple[float, float, float, float] | None:
    """(lat_min, lat_max, lon_min, lon_max) holding every point within the radius, so an
    index can skip the rest; None when the box would wrap a pole or the antimeridian."""
    dlat = math.degrees(near.radius_km / EARTH_RADIUS_KM)
    lat_min, lat_max = near.lat - dlat, near.lat + dlat
    if lat_min <= -90 or lat_max >= 90:
        return None
    dlon = math.degrees(
        math.asin(
            min(1.0, math.sin(near.radius_km / EARTH_RADIUS_KM) / math.cos(math.radians(near.lat)))
        )
    )
    lon_min, lon_max = near.lon - dlon, near.lon + dlon
    if lon_min < -180 or lon_max > 180:
        return None
    # A hair wider than the sphere's geometry, so rounding never drops a point on the edge.
    return lat_min - 1e-9, lat_max + 1e-9, lon_min - 1e-9, lon_max + 1e-9


def terms(text: str) -> tuple[str, ...]:
    """The distinct lower-cased words of a query or a text, in order of appearance."""
    return tuple(dict.fromkeys(_WORD.findall(text.lower())))


def query_terms(q: str | None) -> tuple[str, ...]:
    """The words `q` searches for: all must appear; blank `q` is no search at all."""
    if q is None or not q.strip():
        return ()
    found = terms(q)
    if not found:
        raise InvalidInput("q has no words to search for", code="q_without_words")
    if len(found) > TERMS_MAX:
        raise InvalidInput(f"q has more than {TERMS_MAX} words", code="q_too_many_words")
    return found


def check_search(
    *,
    sort: Sort,
    near: Near | None,
    words: tuple[str, ...],
    budget: tuple[int | None, int | None],
    due: tuple[datetime | None, datetime | None],
) -> None:
    """A query's parts must fit together: 422 for a sort without its input or an empty range."""
    if sort is Sort.DISTANCE and near is None:
        raise InvalidInput("sort=distance needs near", code="sort_needs_near")
    if sort is Sort.RELEVANCE and not words:
        raise InvalidInput("sort=relevance needs q", code="sort_needs_q")
    low, high = budget
    if low is not None and high is not None and low > high:
        raise InvalidInput("budget_min is above budget_max", code="bad_range")
    after, before = due
    if after is not None and before is not None and after >= before:
        raise InvalidInput("due_after is not before due_before", code="bad_range")
    if near is not None:
        _check_near(near)


def _check_near(near: Near) -> None:
    if not (-90.0 <= near.lat <= 90.0) or not (-180.0 <= near.lon <= 180.0):
        raise InvalidInput("near must be lat,lon within -90..90,-180..180", code="bad_near")
    if not (0.0 < near.radius_km <= RADIUS_MAX_KM):
        raise InvalidInput(f"radius_km must be within 0..{RADIUS_MAX_KM:g}", code="bad_radius")
