"""Reading what /messaging handlers need from a request: which id, which page, the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from aiohttp import web

from chore_common.errors import InvalidInput, NotFound
from chore_common.http.pagination import decode_cursor, encode_cursor
from chore_messaging.usecases.ports import PageKey


def utcnow() -> datetime:
    return datetime.now(UTC)


def path_id(request: web.Request, name: str, missing: type[NotFound]) -> UUID:
    # A malformed id names nothing that exists: 404, like any unknown id.
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise missing(f"no such {name.removesuffix('_id')}") from None


def page_key(cursor: str | None) -> PageKey | None:
    if cursor is None:
        return None
    position = decode_cursor(cursor)
    try:
        return PageKey(datetime.fromisoformat(str(position["t"])), UUID(str(position["i"])))
    except (KeyError, ValueError):
        raise InvalidInput(
            "The cursor is not one this service issued.", code="invalid_cursor"
        ) from None


def next_cursor(key: PageKey | None) -> str | None:
    if key is None:
        return None
    return encode_cursor({"t": key.created_at.isoformat(), "i": str(key.id)})
