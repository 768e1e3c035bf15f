"""/auth/admin/...: suspending, unsuspending and banning accounts; the audit log."""

from __future__ import annotations

from aiohttp import web

from chore_auth.api.requests import caller
from chore_auth.api.schemas import (
    AccountStatusOut,
    AuditEntryOut,
    AuditPageOut,
    AuditQuery,
    StatusIn,
)
from chore_auth.domain.audit import AuditFilter
from chore_auth.domain.errors import UserNotFound
from chore_auth.domain.moderation import Move
from chore_auth.keys import ON_REVOKED, UOW
from chore_auth.usecases import audit, moderation
from chore_common.auth.principal import requires
from chore_common.clock import utcnow
from chore_common.http.client_address import client_address
from chore_common.http.openapi import ApiRoutes
from chore_common.http.pagination import next_cursor, page_key
from chore_common.http.requests import path_id
from chore_common.http.validation import json_response, parse_body, parse_query

routes = ApiRoutes()
TAGS = ("admin",)


async def _move(request: web.Request, move: Move) -> web.Response:
    body = await parse_body(request, StatusIn)
    user = await moderation.change_status(
        request.app[UOW],
        caller(request),
        path_id(request, "user_id", UserNotFound),
        move,
        body.reason,
        now=utcnow(),
        client_ip=client_address(request),
        on_revoked=request.app[ON_REVOKED],
    )
    return json_response(
        AccountStatusOut(id=user.id, status=user.status.value, reason=user.status_reason)
    )


@routes.post(
    "/auth/admin/users/{user_id}/suspend",
    body=StatusIn,
    response=AccountStatusOut,
    tags=TAGS,
    summary="Suspend an account: its sessions end, it cannot log in",
    errors=(403, 404, 409),
)
@requires("admin")
async def suspend_user(request: web.Request) -> web.Response:
    return await _move(request, Move.SUSPEND)


@routes.post(
    "/auth/admin/users/{user_id}/unsuspend",
    body=StatusIn,
    response=AccountStatusOut,
    tags=TAGS,
    summary="Lift a suspension",
    errors=(403, 404, 409),
)
@requires("admin")
async def unsuspend_user(request: web.Request) -> web.Response:
    return await _move(request, Move.UNSUSPEND)


@routes.post(
    "/auth/admin/users/{user_id}/ban",
    body=StatusIn,
    response=AccountStatusOut,
    tags=TAGS,
    summary="Ban an account for good: its sessions end, it cannot log in",
    errors=(403, 404, 409),
)
@requires("admin")
async def ban_user(request: web.Request) -> web.Response:
    return await _move(request, Move.BAN)


@routes.get(
    "/auth/admin/audit",
    query=AuditQuery,
    response=AuditPageOut,
    tags=TAGS,
    summary="Security events, newest first (filter by action, actor, target, time)",
    errors=(403,),
)
@requires("admin")
async def audit_log(request: web.Request) -> web.Response:
    query = parse_query(request, AuditQuery)
    where = AuditFilter(
        action=query.action,
        actor_id=query.actor_id,
        target_id=query.target_id,
        since=query.since,
        until=query.until,
    )
    items, last = await audit.list_entries(
        request.app[UOW],
        caller(request),
        where,
        after=page_key(query.cursor),
        limit=query.limit,
        now=utcnow(),
    )
    out = AuditPageOut(items=[AuditEntryOut.of(e) for e in items], next_cursor=next_cursor(last))
    return json_response(out)
