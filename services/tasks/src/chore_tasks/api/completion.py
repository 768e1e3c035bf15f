"""/tasks/{task_id}/confirm and /dispute: the owner's answer to a task marked done."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from chore_common.auth.principal import requires
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.validation import parse_body
from chore_tasks import usecases
from chore_tasks.api.schemas import DisputeIn, TaskOut
from chore_tasks.api.tasks import MOVE_ERRORS, TAGS, move_command, task_response
from chore_tasks.keys import UOW
from chore_tasks.usecases.commands import ConfirmTask, DisputeTask

routes = ApiRoutes()
lifecycle_move = partial(routes.post, response=TaskOut, tags=TAGS, errors=MOVE_ERRORS)


@lifecycle_move(
    "/tasks/{task_id}/confirm",
    summary="Accept the work of a done task: it becomes completed (owner)",
)
@requires("client")
async def confirm_task(request: web.Request) -> web.Response:
    cmd = move_command(request, ConfirmTask)
    task = await usecases.confirm_task(request.app[UOW](), cmd, utcnow())
    return task_response(request, task)


@lifecycle_move(
    "/tasks/{task_id}/dispute",
    body=DisputeIn,
    summary="Dispute a done task before it auto-confirms, with a reason (owner)",
)
@requires("client")
async def dispute_task(request: web.Request) -> web.Response:
    body = await parse_body(request, DisputeIn)
    cmd = move_command(request, DisputeTask, reason=body.reason)
    task = await usecases.dispute_task(request.app[UOW](), cmd, utcnow())
    return task_response(request, task)
