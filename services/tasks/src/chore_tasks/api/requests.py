"""Reading what every /tasks handler needs from a request: who, which task, which version,
which page, and the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from aiohttp import web

from chore_common.auth.principal import principal
from chore_common.errors import NotFound, PreconditionFailed
from chore_common.http.pagination import decode_keyset, encode_keyset
from chore_tasks.domain.errors import TaskNotFound
from chore_tasks.domain.model import Actor, Role
from chore_tasks.usecases.ports import PageKey


def utcnow() -> datetime:
    return datetime.now(UTC)


def actor(request: web.Request) -> Actor:
    who = principal(request)
    return Actor(who.user_id, Role.from_token(who.role))


def path_id(request: web.Request, name: str, missing: type[NotFound] = TaskNotFound) -> UUID:
    # A malformed id names nothing that exists: 404, like any unknown id.
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise missing(f"no such {name.removesuffix('_id')}") from None


def if_match(request: web.Request) -> int | None:
    """The version an `If-Match` header demands; None when absent or `*`."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    tag = raw.strip().removeprefix("W/").strip('"')
    try:
        return int(tag)
    except ValueError:
        # A tag we never issue can match no version of the task.
        raise PreconditionFailed("If-Match names no version", code="version_mismatch") from None


def not_modified(request: web.Request, etag: str) -> bool:
    """Whether `If-None-Match` already holds this representation (answer 304)."""
    raw = request.headers.get("If-None-Match")
    if raw is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in raw.split(",")}
    return "*" in tags or etag in tags


def page_key(cursor: str | None) -> PageKey | None:
    return None if cursor is None else PageKey(*decode_keyset(cursor))


def next_cursor(key: PageKey | None) -> str | None:
    return None if key is None else encode_keyset(key.created_at, key.id)
