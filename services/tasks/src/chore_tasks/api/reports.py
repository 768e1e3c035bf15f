"""Reports: `POST /tasks/{task_id}/report` and `POST /tasks/{task_id}/offers/{offer_id}/report`
(anyone who can see it), and the admins' queue `/tasks/admin/reports` (the kit's routes,
`chore_common.reports.routes`)."""

from __future__ import annotations

from aiohttp import web

from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.requests import path_id
from chore_common.http.validation import json_response, parse_body
from chore_common.reports.routes import admin_report_routes
from chore_tasks.api.requests import actor
from chore_tasks.api.schemas import ReportIn, ReportOut, ReportPage, ReportQuery
from chore_tasks.domain.errors import OfferNotFound, ReportNotFound, TaskNotFound
from chore_tasks.keys import UOW
from chore_tasks.usecases import reports

routes = ApiRoutes()
TAGS = ("reports",)


@routes.post(
    "/tasks/{task_id}/report",
    body=ReportIn,
    response=ReportOut,
    status=201,
    tags=TAGS,
    summary="Report a task to the admins (anyone who can see it; one open report each)",
    errors=(403, 404, 409),
)
async def report_task(request: web.Request) -> web.Response:
    return await _report(request, offer=False)


@routes.post(
    "/tasks/{task_id}/offers/{offer_id}/report",
    body=ReportIn,
    response=ReportOut,
    status=201,
    tags=TAGS,
    summary="Report an offer to the admins (the task's owner, or the tasker who made it)",
    errors=(403, 404, 409),
)
async def report_offer(request: web.Request) -> web.Response:
    return await _report(request, offer=True)


async def _report(request: web.Request, *, offer: bool) -> web.Response:
    task_id = path_id(request, "task_id", TaskNotFound)
    offer_id = path_id(request, "offer_id", OfferNotFound) if offer else None
    body = await parse_body(request, ReportIn)
    filed = await reports.report(
        request.app[UOW](),
        actor(request),
        task_id,
        offer_id=offer_id,
        reason=body.reason,
        now=utcnow(),
    )
    return json_response(ReportOut.of(filed), status=201)


admin_routes = admin_report_routes(
    "/tasks/admin/reports",
    reports="Reports of tasks and offers",
    report="report",
    not_found=ReportNotFound,
    query=ReportQuery,
    out=ReportOut,
    page=ReportPage,
    unit_of_work=lambda request: request.app[UOW](),
    caller=actor,
    list_reports=reports.list_reports,
    close_report=reports.close_report,
)
