"""/tasks/admin/disputes and /tasks/admin/tasks/{task_id}/resolve: disputes, for admins."""

from __future__ import annotations

from aiohttp import web

from chore_common.auth.principal import requires
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.pagination import next_cursor, page_key
from chore_common.http.validation import json_response, parse_body, parse_query
from chore_tasks import usecases
from chore_tasks.api.requests import actor
from chore_tasks.api.schemas import DisputeOut, DisputePage, DisputeQuery, ResolveIn, TaskOut
from chore_tasks.api.tasks import move_command, task_response
from chore_tasks.domain.model import Status
from chore_tasks.keys import UOW
from chore_tasks.usecases.commands import ListDisputes, ResolveDispute

routes = ApiRoutes()
TAGS = ("admin",)


@routes.get(
    "/tasks/admin/disputes",
    query=DisputeQuery,
    response=DisputePage,
    tags=TAGS,
    summary="Disputes, oldest first: open ones (the default) or resolved ones (admins)",
    errors=(403,),
)
@requires("admin")
async def list_disputes(request: web.Request) -> web.Response:
    query = parse_query(request, DisputeQuery)
    cmd = ListDisputes(
        actor=actor(request),
        resolved=query.state == "resolved",
        limit=query.limit,
        after=page_key(query.cursor),
    )
    page = await usecases.list_disputes(request.app[UOW](), cmd, utcnow())
    out = DisputePage(
        items=[DisputeOut.of(d) for d in page.items], next_cursor=next_cursor(page.next_key)
    )
    return json_response(out)


@routes.post(
    "/tasks/admin/tasks/{task_id}/resolve",
    body=ResolveIn,
    response=TaskOut,
    tags=TAGS,
    summary="Resolve a disputed task: it ends completed or cancelled, with a note (admins)",
    errors=(403, 404, 409, 412),
)
@requires("admin")
async def resolve_dispute(request: web.Request) -> web.Response:
    body = await parse_body(request, ResolveIn)
    cmd = move_command(request, ResolveDispute, outcome=Status(body.outcome), note=body.note)
    task = await usecases.resolve_dispute(request.app[UOW](), cmd, utcnow())
    return task_response(request, task)
