"""/tasks/admin/jobs: the scheduler's jobs, for admins (list, look, retry, run now, delete)."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from chore_common.auth.principal import requires
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.pagination import next_cursor, page_key
from chore_common.http.requests import path_id
from chore_common.http.validation import json_response, parse_query
from chore_tasks import usecases
from chore_tasks.api.admin_page import jobs_page, wants_html
from chore_tasks.api.requests import actor
from chore_tasks.api.schemas import JobOut, JobPage, JobQuery
from chore_tasks.domain.errors import JobNotFound
from chore_tasks.keys import UOW, WAKE_SCHEDULER
from chore_tasks.usecases.commands import JobCommand, ListJobs

routes = ApiRoutes()
TAGS = ("admin",)
# Retry and run now: both answer with the job and wake the scheduler.
job_action = partial(routes.post, response=JobOut, tags=TAGS, errors=(403, 404, 409))


def wake_scheduler(request: web.Request) -> None:
    # The job is due now: this replica looks at once instead of at its next poll.
    wake = request.app.get(WAKE_SCHEDULER)
    if wake is not None:
        wake()


def job_command(request: web.Request) -> JobCommand:
    return JobCommand(job_id=path_id(request, "job_id", JobNotFound), actor=actor(request))


@routes.get(
    "/tasks/admin/jobs",
    query=JobQuery,
    response=JobPage,
    tags=TAGS,
    summary="Scheduler jobs, newest first, by status, kind or task (admins)",
    errors=(403,),
)
@requires("admin", query_token=True)
async def list_jobs(request: web.Request) -> web.Response:
    """JSON for API clients; the admin page for browsers (its script fetches it with the
    bearer token; `?token=` is also read, since a navigation cannot set `Authorization`)."""
    if wants_html(request):
        return await jobs_page(request.app[UOW], actor(request), utcnow())
    query = parse_query(request, JobQuery)
    cmd = ListJobs(
        actor=actor(request),
        status=query.status,
        kind=query.kind,
        task_id=query.task_id,
        limit=query.limit,
        after=page_key(query.cursor),
    )
    page = await usecases.list_jobs(request.app[UOW](), cmd, utcnow())
    out = JobPage(items=[JobOut.of(j) for j in page.items], next_cursor=next_cursor(page.next_key))
    return json_response(out)


@routes.get(
    "/tasks/admin/jobs/{job_id}",
    response=JobOut,
    tags=TAGS,
    summary="One job with its last error (admins)",
    errors=(403, 404),
)
@requires("admin")
async def get_job(request: web.Request) -> web.Response:
    job = await usecases.get_job(request.app[UOW](), job_command(request), utcnow())
    return json_response(JobOut.of(job))


@job_action(
    "/tasks/admin/jobs/{job_id}/retry",
    summary="Queue a failed or finished job again with fresh tries (admins)",
)
@requires("admin")
async def retry_job(request: web.Request) -> web.Response:
    job = await usecases.retry_job(request.app[UOW](), job_command(request), utcnow())
    wake_scheduler(request)
    return json_response(JobOut.of(job))


@job_action("/tasks/admin/jobs/{job_id}/run", summary="Make a job due now (admins)")
@requires("admin")
async def run_job_now(request: web.Request) -> web.Response:
    job = await usecases.run_job_now(request.app[UOW](), job_command(request), utcnow())
    wake_scheduler(request)
    return json_response(JobOut.of(job))


@routes.delete(
    "/tasks/admin/jobs/{job_id}",
    status=204,
    tags=TAGS,
    summary="Delete a job that is not running (admins)",
    errors=(403, 404, 409),
)
@requires("admin")
async def delete_job(request: web.Request) -> web.Response:
    await usecases.delete_job(request.app[UOW](), job_command(request), utcnow())
    return web.Response(status=204)
