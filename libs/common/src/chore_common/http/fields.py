"""Field types for request schemas: every value a client sends is checked here, at the edge,
against what the database can store, so a bad value is a 422 naming the field and never
reaches a driver (where it would be a 500, or fail a batch it shares with other users).

    class TaskIn(StrictModel):
        title: Name = Field(max_length=200)
        description: Text = Field("", max_length=4000)
        due_at: Instant | None = None

- `Text`: a string PostgreSQL's `text` and SQLite both store: no NUL (PostgreSQL refuses
  it), no lone surrogate (not encodable as UTF-8; JSON bodies cannot carry one, but query
  strings and WebSocket frames decoded with `surrogateescape` can).
- `Name`: `Text` with something in it besides whitespace (a name of spaces would be stored
  as "", or show as nothing).
- `Instant`: a timezone-aware datetime whose UTC value lies in years 1970..9999 (an offset
  can push `9999-12-31T23:59:59-23:59` past year 9999, which neither Python nor the
  drivers can convert to UTC).
- `Int64` / `Seq`: integers that fit a `BIGINT` column (a sequence number is also >= 0).

Every rule reports a pydantic error type of its own (`text_nul`, `instant_range`, ...) and,
like every validation error here, never echoes the value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

from pydantic import AfterValidator, AwareDatetime, Field
from pydantic_core import PydanticCustomError

INT64_MAX: Final = 2**63 - 1
INT64_MIN: Final = -(2**63)
YEAR_MIN: Final = 1970
YEAR_MAX: Final = 9999


def storable_text(value: str) -> str:
    """`value` unchanged when a database can store it, else a `PydanticCustomError`."""
    if "\x00" in value:
        raise PydanticCustomError("text_nul", "Text must not contain NUL characters.")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PydanticCustomError(
                "text_surrogate", "Text must be valid Unicode (no lone surrogates)."
            ) from None
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("text_blank", "Text must not be blank.")
    return value


def sane_instant(value: datetime) -> datetime:
    """`value` unchanged when aware and, in UTC, within years 1970..9999."""
    if value.utcoffset() is None:
        raise PydanticCustomError("instant_naive", "A datetime must carry a timezone.")
    try:
        year = value.astimezone(UTC).year
    except OverflowError:  # the offset pushes it past 9999-12-31 (or before year 1)
        year = 0
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise PydanticCustomError(
            "instant_range",
            "A datetime must fall within the years {low}..{high} (UTC).",
            {"low": YEAR_MIN, "high": YEAR_MAX},
        )
    return value


Text = Annotated[str, AfterValidator(storable_text)]
Name = Annotated[str, AfterValidator(storable_text), AfterValidator(_not_blank)]
Instant = Annotated[AwareDatetime, AfterValidator(sane_instant)]
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Seq = Annotated[int, Field(ge=0, le=INT64_MAX)]
