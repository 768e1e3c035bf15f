"""/tasks and /tasks/{task_id}: post, browse, read, and the lifecycle moves."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeVar

from aiohttp import web

from chore_common.auth.principal import requires
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.requests import if_match, not_modified
from chore_common.http.validation import json_response, parse_body, parse_query
from chore_common.idempotency.middleware import idempotent
from chore_tasks import usecases
from chore_tasks.api.requests import (
    actor,
    check_email_verified,
    on_task,
    search_cursor,
    search_key,
)
from chore_tasks.api.schemas import (
    AssignIn,
    CancelIn,
    ReasonIn,
    RepostIn,
    TaskIn,
    TaskOut,
    TaskPage,
    TaskQuery,
)
from chore_tasks.domain.model import (
    Action,
    Task,
)
from chore_tasks.keys import (
    AUTO_CONFIRM_AFTER,
    DEFAULT_CURRENCY,
    NEW_TASKS,
    RETRY,
    TASK_BODIES,
    TASK_CACHE,
    UOW,
)
from chore_tasks.usecases.commands import (
    AssignTask,
    BrowseTasks,
    CancelTask,
    CompleteTask,
    CreateTask,
    GetTask,
    ReopenTask,
    RepostTask,
    StartTask,
)

routes = ApiRoutes()
TAGS = ("tasks",)
MOVE_ERRORS = (403, 404, 409, 412)
# The lifecycle moves share their answer (the task) and their errors.
lifecycle_move = partial(routes.post, response=TaskOut, tags=TAGS, errors=MOVE_ERRORS)


C = TypeVar("C")


def move_command(request: web.Request, command: Callable[..., C], **fields: object) -> C:
    """A lifecycle move on the task in the path, by the caller, against their If-Match."""
    return on_task(request, command, if_match=if_match(request), **fields)


def task_response(request: web.Request, task: Task, status: int = 200) -> web.Response:
    return web.Response(
        body=request.app[TASK_BODIES].of(task),
        status=status,
        content_type="application/json",
        headers={"ETag": task.etag},
    )


@routes.post(
    "/tasks",
    body=TaskIn,
    response=TaskOut,
    status=201,
    tags=TAGS,
    summary="Post a task (clients)",
    errors=(403,),
)
@requires("client")
@idempotent
async def create_task(request: web.Request) -> web.Response:
    check_email_verified(request)
    body = await parse_body(request, TaskIn)
    cmd = CreateTask(
        actor=actor(request),
        title=body.title,
        description=body.description,
        category=body.category,
        budget_cents=body.budget_cents,
        currency=body.currency or request.app[DEFAULT_CURRENCY],
        due_at=body.due_at,
        location=body.location.to_domain() if body.location is not None else None,
    )
    app = request.app
    task = await usecases.create_task(app[NEW_TASKS], cmd, utcnow(), retry=app[RETRY])
    response = task_response(request, task, status=201)
    response.headers["Location"] = f"/tasks/{task.id}"
    return response


@routes.get(
    "/tasks",
    query=TaskQuery,
    response=TaskPage,
    tags=TAGS,
    summary="Browse and search tasks: open ones, and private ones you take part in",
)
async def browse_tasks(request: web.Request) -> web.Response:
    query = parse_query(request, TaskQuery)
    cmd = BrowseTasks(
        actor=actor(request),
        status=query.status,
        categories=tuple(dict.fromkeys(query.category)),
        q=query.q,
        owner_me=query.owner == "me",
        assignee_me=query.assignee == "me",
        budget_min=query.budget_min,
        budget_max=query.budget_max,
        due_after=query.due_after,
        due_before=query.due_before,
        near=query.near_point(),
        sort=query.sort,
        limit=query.limit,
        after=search_key(query.cursor),
    )
    page = await usecases.browse_tasks(request.app[UOW](), cmd, utcnow())
    out = TaskPage(
        items=[TaskOut.of(t) for t in page.items], next_cursor=search_cursor(page.next_key)
    )
    return json_response(out)


@routes.get(
    "/tasks/{task_id}",
    response=TaskOut,
    tags=TAGS,
    summary="One task, with an ETag; If-None-Match gives 304",
    errors=(304, 404),
)
async def get_task(request: web.Request) -> web.Response:
    cmd = on_task(request, GetTask)
    app = request.app
    task = await usecases.get_task(app[UOW](), cmd, utcnow(), cache=app.get(TASK_CACHE))
    if not_modified(request, task.etag):
        return web.Response(status=304, headers={"ETag": task.etag})
    return task_response(request, task)


@lifecycle_move(
    "/tasks/{task_id}/assign",
    body=AssignIn,
    summary="Accept an offer: the task becomes assigned (owner)",
)
@requires("client")
async def assign_task(request: web.Request) -> web.Response:
    body = await parse_body(request, AssignIn)
    cmd = move_command(request, AssignTask, offer_id=body.offer_id)
    app = request.app
    task = await usecases.assign_task(app[UOW](), cmd, utcnow(), retry=app[RETRY])
    return task_response(request, task)


@lifecycle_move("/tasks/{task_id}/start", summary="Start the assigned task (assignee)")
@requires("tasker")
async def start_task(request: web.Request) -> web.Response:
    task = await usecases.start_task(request.app[UOW](), move_command(request, StartTask), utcnow())
    return task_response(request, task)


@lifecycle_move(
    "/tasks/{task_id}/complete",
    summary="Mark the task in progress done (assignee); the owner then confirms or disputes it",
)
@requires("tasker")
async def complete_task(request: web.Request) -> web.Response:
    cmd = move_command(request, CompleteTask)
    app = request.app
    task = await usecases.complete_task(
        app[UOW](), cmd, utcnow(), retry=app[RETRY], confirm_after=app[AUTO_CONFIRM_AFTER]
    )
    return task_response(request, task)


@lifecycle_move(
    "/tasks/{task_id}/cancel",
    body=CancelIn,
    summary="Cancel an open or assigned task (owner); the body is optional",
)
@requires("client")
async def cancel_task(request: web.Request) -> web.Response:
    body = await parse_body(request, CancelIn) if request.body_exists else CancelIn()
    cmd = move_command(request, CancelTask, reason=body.reason)
    task = await usecases.cancel_task(request.app[UOW](), cmd, utcnow())
    return task_response(request, task)


async def reopen(request: web.Request, action: Action) -> web.Response:
    body = await parse_body(request, ReasonIn)
    cmd = move_command(request, ReopenTask, action=action, reason=body.reason)
    app = request.app
    task = await usecases.reopen_task(app[UOW](), cmd, utcnow(), retry=app[RETRY])
    return task_response(request, task)


@lifecycle_move(
    "/tasks/{task_id}/withdraw",
    body=ReasonIn,
    summary="Step back from an assigned or started task: it is open again (assignee)",
)
@requires("tasker")
async def withdraw_task(request: web.Request) -> web.Response:
    return await reopen(request, Action.WITHDRAW)


@lifecycle_move(
    "/tasks/{task_id}/release",
    body=ReasonIn,
    summary="Let the assignee go: the task is open again (owner)",
)
@requires("client")
async def release_task(request: web.Request) -> web.Response:
    return await reopen(request, Action.RELEASE)


@lifecycle_move(
    "/tasks/{task_id}/repost",
    body=RepostIn,
    summary="Put an expired task back on the market with a new due time (owner)",
)
@requires("client")
async def repost_task(request: web.Request) -> web.Response:
    body = await parse_body(request, RepostIn)
    cmd = move_command(request, RepostTask, due_at=body.due_at)
    app = request.app
    task = await usecases.repost_task(app[UOW](), cmd, utcnow(), retry=app[RETRY])
    return task_response(request, task)
