"""Message reports: `POST /messaging/conversations/{id}/messages/{message_id}/report` (a
participant), and the admins' queue `/messaging/admin/reports` (the kit's routes,
`chore_common.reports.routes`), which the tasks admin page shows beside tasks' own reports
(docs/messaging.md, "Reports")."""

from __future__ import annotations

from aiohttp import web

from chore_common.auth.principal import principal
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.requests import path_id
from chore_common.http.validation import json_response, parse_body
from chore_common.reports.routes import admin_report_routes
from chore_messaging.api.schemas import ReportIn, ReportOut, ReportPage, ReportQuery
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


admin_routes = admin_report_routes(
    "/messaging/admin/reports",
    reports="Reports of messages",
    report="message report",
    not_found=ReportNotFound,
    query=ReportQuery,
    out=ReportOut,
    page=ReportPage,
    unit_of_work=lambda request: request.app[UOW](),
    caller=principal,
    list_reports=reports.list_reports,
    close_report=reports.close_report,
)
