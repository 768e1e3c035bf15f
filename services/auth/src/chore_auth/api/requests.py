"""Reading what auth's handlers need from a request: who asks, and which session."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from chore_auth.domain.errors import SessionNotFound
from chore_auth.usecases.commands import Caller
from chore_common.auth.principal import principal


def caller(request: web.Request) -> Caller:
    who = principal(request)
    return Caller(user_id=who.user_id, session_id=who.session_id)


def session_id(request: web.Request) -> UUID:
    # A malformed id names nothing that exists: the same 404 as an unknown or foreign one
    # (usecases.sessions.revoke_session), detail included.
    try:
        return UUID(request.match_info["session_id"])
    except ValueError:
        raise SessionNotFound("No such session.") from None
