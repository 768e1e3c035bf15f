"""Reading what handlers need from a request: ids from the path, the version `If-Match`
demands, whether `If-None-Match` already holds a representation.

ETags are versions (`"3"`, weak `W/"3"` too): a write names the version it read.
"""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from chore_common.errors import NotFound, PreconditionFailed


def path_id(request: web.Request, name: str, missing: type[NotFound]) -> UUID:
    """The UUID in the path segment `name`; `missing` (a 404) when it is not one."""
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
        # A tag we never issue can match no version.
        raise PreconditionFailed("If-Match names no version", code="version_mismatch") from None


def not_modified(request: web.Request, etag: str) -> bool:
    """Whether `If-None-Match` already holds this representation (answer 304)."""
    raw = request.headers.get("If-None-Match")
    if raw is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in raw.split(",")}
    return "*" in tags or etag in tags
