"""Reading what /messaging handlers need from a request: which id, which page, the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from aiohttp import web

from chore_common.errors import NotFound
from chore_common.http.pagination import decode_keyset, encode_keyset
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
    return None if cursor is None else PageKey(*decode_keyset(cursor))


def next_cursor(key: PageKey | None) -> str | None:
    return None if key is None else encode_keyset(key.created_at, key.id)
