"""Cursor pagination: `?limit=&cursor=` in, `{"items": [...], "next_cursor": ...}` out.

A cursor is opaque to clients (base64url of compact JSON). Every list here pages on the
keyset (created_at, id), newest first (`chore_common.paging.PageKey`), so handlers use
`page_key` / `next_cursor` (or `decode_keyset` / `encode_keyset`);
`encode_cursor` / `decode_cursor` carry any other position. A client can still send
anything as a cursor, so decoding checks every value the way a request field is checked
(`chore_common.http.fields`): a tampered cursor is `422 invalid_cursor`, never a query the
database fails on.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, Field

from chore_common.errors import InvalidInput
from chore_common.http.fields import sane_instant
from chore_common.http.validation import StrictModel
from chore_common.paging import PageKey

T = TypeVar("T")

MAX_CURSOR_CHARS = 1024

# The length is checked by `decode_cursor` (so a huge cursor is `invalid_cursor` like any
# other tampered one), and shown in the OpenAPI document for clients and fuzzers.
Cursor = Annotated[
    str,
    Field(
        description="`next_cursor` of the previous page",
        json_schema_extra={"maxLength": MAX_CURSOR_CHARS},
    ),
]


def _invalid() -> InvalidInput:
    return InvalidInput("The cursor is not one this service issued.", code="invalid_cursor")


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True, default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The position back from `cursor`; anything a client tampered with is a 422."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _invalid()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError):
        raise _invalid() from None
    if not isinstance(position, dict):
        raise _invalid()
    return position


def encode_keyset(created_at: datetime, row_id: UUID) -> str:
    return encode_cursor({"t": created_at.isoformat(), "i": str(row_id)})


def decode_keyset(cursor: str) -> PageKey:
    """The keyset of a cursor from `encode_keyset`: an aware datetime within years
    1970..9999 and a UUID, else `422 invalid_cursor`."""
    position = decode_cursor(cursor)
    moment, row_id = position.get("t"), position.get("i")
    if not isinstance(moment, str) or not isinstance(row_id, str):
        raise _invalid()
    try:
        return PageKey(sane_instant(datetime.fromisoformat(moment)), UUID(row_id))
    except ValueError:  # a bad datetime or UUID; the range check raises one too
        raise _invalid() from None


def page_key(cursor: str | None) -> PageKey | None:
    """Where the requested page starts: None for the first page."""
    return None if cursor is None else decode_keyset(cursor)


def next_cursor(key: PageKey | None) -> str | None:
    """The cursor of the page after `key`; None on the last page."""
    return None if key is None else encode_keyset(key.created_at, key.id)


class PageQuery(StrictModel):
    limit: int = Field(20, ge=1, le=100)
    cursor: Cursor | None = None


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
