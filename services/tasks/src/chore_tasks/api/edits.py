"""PATCH /tasks/{task_id} (the owner edits an open task) and GET /tasks/{task_id}/history
(the edits of a task with offers)."""

from __future__ import annotations

from aiohttp import web

from chore_common.auth.principal import requires
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.pagination import next_cursor, page_key
from chore_common.http.validation import json_response, parse_body, parse_query
from chore_tasks import usecases
from chore_tasks.api.requests import on_task
from chore_tasks.api.schemas import HistoryQuery, TaskEditOut, TaskEditPage, TaskOut, TaskPatchIn
from chore_tasks.api.tasks import move_command, task_response
from chore_tasks.keys import RETRY, UOW
from chore_tasks.usecases.commands import EditTask, TaskHistory

routes = ApiRoutes()
TAGS = ("tasks",)


@routes.patch(
    "/tasks/{task_id}",
    body=TaskPatchIn,
    response=TaskOut,
    tags=TAGS,
    summary="Edit an open task: only the fields sent change (owner; If-Match)",
    errors=(403, 404, 409, 412),
)
@requires("client")
async def edit_task(request: web.Request) -> web.Response:
    body = await parse_body(request, TaskPatchIn)
    cmd = move_command(request, EditTask, fields=body.changes())
    app = request.app
    task = await usecases.edit_task(app[UOW](), cmd, utcnow(), retry=app[RETRY])
    return task_response(request, task)


@routes.get(
    "/tasks/{task_id}/history",
    query=HistoryQuery,
    response=TaskEditPage,
    tags=TAGS,
    summary="The edits of a task with offers, oldest first (owner, taskers who offered, admins)",
    errors=(403, 404),
)
async def task_history(request: web.Request) -> web.Response:
    query = parse_query(request, HistoryQuery)
    cmd = on_task(request, TaskHistory, limit=query.limit, after=page_key(query.cursor))
    page = await usecases.task_history(request.app[UOW](), cmd, utcnow())
    items = [TaskEditOut.of(e) for e in page.items]
    return json_response(TaskEditPage(items=items, next_cursor=next_cursor(page.next_key)))
