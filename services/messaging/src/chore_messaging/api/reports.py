"""Message reports: `POST /messaging/conversations/{id}/messages/{message_id}/report` (a
participant), and the admins' queue `/messaging/admin/reports`, which the tasks admin page
shows beside tasks' own reports (docs/messaging.md, "Reports")."""

from __future__ import annotations

from aiohttp import web

from chore_common.auth.principal import principal, requires
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.pagination import next_cursor, page_key
from chore_common.http.requests import path_id
from chore_common.http.validation import json_response, parse_body, parse_query
from chore_common.reports.rules import ReportAction
from chore_messaging.api.schemas import (
    ReportIn,
    ReportNoteIn,
    ReportOut,
    ReportPage,
    ReportQuery,
)
from chore_messaging.domain.errors import ConversationNotFound, MessageNotFound, ReportNotFound
from chore_messaging.keys import UOW
from chore_messaging.usecases import reports

routes = ApiRoutes()
TAGS = ("reports",)


@routes.post(
    "/messaging/conversations/{conversation_id}/messages/{message_id}/report",
    body=ReportIn,
    response=ReportOut,
    status=201,
    tags=TAGS,
    summary="Report the other participant's message to the admins (one open report each)",
    errors=(403, 404, 409),
)
async def report_message(request: web.Request) -> web.Response:
    conversation_id = path_id(request, "conversation_id", ConversationNotFound)
    message_id = path_id(request, "message_id", MessageNotFound)
    body = await parse_body(request, ReportIn)
    filed = await reports.report_message(
        request.app[UOW](),
        principal(request).user_id,
        conversation_id,
        message_id,
        reason=body.reason,
        now=utcnow(),
    )
    return json_response(ReportOut.of(filed), status=201)


@routes.get(
    "/messaging/admin/reports",
    query=ReportQuery,
    response=ReportPage,
    tags=("admin",),
    summary="Reports of messages, oldest first: open ones (the default) or answered ones (admins)",
    errors=(403,),
)
@requires("admin")
async def list_reports(request: web.Request) -> web.Response:
    query = parse_query(request, ReportQuery)
    page = await reports.list_reports(
        request.app[UOW](),
        principal(request).role,
        closed=query.state == "closed",
        limit=query.limit,
        after=page_key(query.cursor),
    )
    out = ReportPage(
        items=[ReportOut.of(r) for r in page.items], next_cursor=next_cursor(page.next_key)
    )
    return json_response(out)


@routes.post(
    "/messaging/admin/reports/{report_id}/dismiss",
    body=ReportNoteIn,
    response=ReportOut,
    tags=("admin",),
    summary="Dismiss an open message report (nothing wrong), with a note (admins)",
    errors=(403, 404, 409),
)
@requires("admin")
async def dismiss_report(request: web.Request) -> web.Response:
    return await _close(request, ReportAction.DISMISS)


@routes.post(
    "/messaging/admin/reports/{report_id}/resolve",
    body=ReportNoteIn,
    response=ReportOut,
    tags=("admin",),
    summary="Resolve an open message report (acted on), with a note (admins)",
    errors=(403, 404, 409),
)
@requires("admin")
async def resolve_report(request: web.Request) -> web.Response:
    return await _close(request, ReportAction.RESOLVE)


async def _close(request: web.Request, action: ReportAction) -> web.Response:
    report_id = path_id(request, "report_id", ReportNotFound)
    body = await parse_body(request, ReportNoteIn)
    who = principal(request)
    closed = await reports.close_report(
        request.app[UOW](), who.user_id, who.role, report_id, action, note=body.note, now=utcnow()
    )
    return json_response(ReportOut.of(closed))
