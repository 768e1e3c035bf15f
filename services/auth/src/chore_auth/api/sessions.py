"""/auth/sessions and /auth/logout: one's sessions, listed and revoked."""

from __future__ import annotations

from aiohttp import web

from chore_auth.api.requests import caller, session_id
from chore_auth.api.schemas import SessionOut, SessionsOut
from chore_auth.keys import ON_REVOKED, UOW
from chore_auth.usecases import sessions
from chore_common.clock import utcnow
from chore_common.http.client_address import client_address
from chore_common.http.openapi import ApiRoutes
from chore_common.http.pagination import PageQuery, next_cursor, page_key
from chore_common.http.validation import json_response, parse_query
from chore_common.paging import PageKey

routes = ApiRoutes()
TAGS = ("auth",)


@routes.post("/auth/logout", status=204, tags=TAGS, summary="Revoke the current session")
async def log_out(request: web.Request) -> web.Response:
    await sessions.logout(
        request.app[UOW],
        caller(request),
        now=utcnow(),
        on_revoked=request.app[ON_REVOKED],
        client_ip=client_address(request),
    )
    return web.Response(status=204)


@routes.get(
    "/auth/sessions",
    query=PageQuery,
    response=SessionsOut,
    tags=TAGS,
    summary="My active sessions, newest first",
)
async def list_sessions(request: web.Request) -> web.Response:
    page = parse_query(request, PageQuery)
    who = caller(request)
    found = await sessions.list_sessions(request.app[UOW], who, now=utcnow())
    mark = page_key(page.cursor)
    if mark is not None:
        found = [s for s in found if (s.created_at, s.id) < mark]
    items = found[: page.limit]
    last = PageKey(items[-1].created_at, items[-1].id) if len(found) > page.limit else None
    out = SessionsOut(
        items=[SessionOut.of(s, who.session_id) for s in items], next_cursor=next_cursor(last)
    )
    return json_response(out)


@routes.delete(
    "/auth/sessions/{session_id}",
    status=204,
    tags=TAGS,
    summary="Revoke one of my sessions",
    errors=(404,),
)
async def revoke_session(request: web.Request) -> web.Response:
    target = session_id(request)
    await sessions.revoke_session(
        request.app[UOW],
        caller(request),
        target,
        now=utcnow(),
        on_revoked=request.app[ON_REVOKED],
        client_ip=client_address(request),
    )
    return web.Response(status=204)
