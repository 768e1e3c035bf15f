"""Cursor pagination: `?limit=&cursor=` in, `{"items": [...], "next_cursor": ...}` out.

A cursor is opaque to clients (base64url of compact JSON): the service puts whatever its
keyset needs in it (`{"created_at": ..., "id": ...}`) and may change that shape freely.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from chore_common.errors import InvalidInput
from chore_common.http.validation import StrictModel

T = TypeVar("T")

MAX_CURSOR_CHARS = 1024


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True, default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The position back from `cursor`; anything a client tampered with is a 422."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidInput("The cursor is not one this service issued.", code="invalid_cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            "The cursor is not one this service issued.", code="invalid_cursor"
        ) from None
    if not isinstance(position, dict):
        raise InvalidInput("The cursor is not one this service issued.", code="invalid_cursor")
    return position


class PageQuery(StrictModel):
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, max_length=MAX_CURSOR_CHARS)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
