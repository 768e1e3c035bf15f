"""Reports: `POST /tasks/{task_id}/report` and `POST /tasks/{task_id}/offers/{offer_id}/report`
(anyone who can see it), and the admins' queue `/tasks/admin/reports`."""

from __future__ import annotations

from aiohttp import web

from chore_common.auth.principal import requires
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.pagination import next_cursor, page_key
from chore_common.http.requests import path_id
from chore_common.http.validation import json_response, parse_body, parse_query
from chore_common.reports.rules import ReportAction
from chore_tasks.api.requests import actor
from chore_tasks.api.schemas import ReportIn, ReportNoteIn, ReportOut, ReportPage, ReportQuery
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


@routes.get(
    "/tasks/admin/reports",
    query=ReportQuery,
    response=ReportPage,
    tags=("admin",),
    summary="Reports of tasks and offers, oldest first: open ones (the default) or answered "
    "ones (admins)",
    errors=(403,),
)
@requires("admin")
async def list_reports(request: web.Request) -> web.Response:
    query = parse_query(request, ReportQuery)
    page = await reports.list_reports(
        request.app[UOW](),
        actor(request),
        closed=query.state == "closed",
        limit=query.limit,
        after=page_key(query.cursor),
    )
    out = ReportPage(
        items=[ReportOut.of(r) for r in page.items], next_cursor=next_cursor(page.next_key)
    )
    return json_response(out)


@routes.post(
    "/tasks/admin/reports/{report_id}/dismiss",
    body=ReportNoteIn,
    response=ReportOut,
    tags=("admin",),
    summary="Dismiss an open report (nothing wrong), with a note (admins)",
    errors=(403, 404, 409),
)
@requires("admin")
async def dismiss_report(request: web.Request) -> web.Response:
    return await _close(request, ReportAction.DISMISS)


@routes.post(
    "/tasks/admin/reports/{report_id}/resolve",
    body=ReportNoteIn,
    response=ReportOut,
    tags=("admin",),
    summary="Resolve an open report (acted on), with a note (admins)",
    errors=(403, 404, 409),
)
@requires("admin")
async def resolve_report(request: web.Request) -> web.Response:
    return await _close(request, ReportAction.RESOLVE)


async def _close(request: web.Request, action: ReportAction) -> web.Response:
    report_id = path_id(request, "report_id", ReportNotFound)
    body = await parse_body(request, ReportNoteIn)
    closed = await reports.close_report(
        request.app[UOW](), actor(request), report_id, action, note=body.note, now=utcnow()
    )
    return json_response(ReportOut.of(closed))
