"""Reading what auth's handlers need from a request: who asks, which session, and the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from aiohttp import web

from chore_auth.domain.errors import SessionNotFound
from chore_auth.usecases.commands import Caller
from chore_common.auth.principal import principal


def utcnow() -> datetime:
    return datetime.now(UTC)


def caller(request: web.Request) -> Caller:
    who = principal(request)
    return Caller(user_id=who.user_id, session_id=who.session_id)


def session_id(request: web.Request) -> UUID:
    # A malformed id names nothing that exists: 404, like any unknown id.
    try:
        return UUID(request.match_info["session_id"])
    except ValueError:
        raise SessionNotFound("No such session.") from None
