"""/tasks/{task_id}/review: what the owner says of the assignee once the task is done."""

from __future__ import annotations

from aiohttp import web

from chore_common.auth.principal import requires
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.validation import json_response, parse_body
from chore_common.idempotency.middleware import idempotent
from chore_tasks import usecases
from chore_tasks.api.requests import on_task
from chore_tasks.api.schemas import ReviewIn, ReviewOut
from chore_tasks.keys import UOW
from chore_tasks.usecases.commands import ReviewTask

routes = ApiRoutes()


@routes.post(
    "/tasks/{task_id}/review",
    body=ReviewIn,
    response=ReviewOut,
    status=201,
    tags=("offers",),  # listed with the offers in the API document, as before the split
    summary="Review the assignee of a completed task (owner, once)",
    errors=(403, 404, 409),
)
@requires("client")
@idempotent
async def review_task(request: web.Request) -> web.Response:
    body = await parse_body(request, ReviewIn)
    cmd = on_task(request, ReviewTask, rating=body.rating, comment=body.comment)
    review = await usecases.review_task(request.app[UOW](), cmd, utcnow())
    return json_response(ReviewOut.of(review), status=201)
