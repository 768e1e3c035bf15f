"""The admin's view of the scheduler: list jobs, look at one, retry, run now, delete."""

from __future__ import annotations

from datetime import datetime

from chore_common.paging import Page
from chore_tasks.domain import jobs, policies
from chore_tasks.domain.errors import JobNotFound
from chore_tasks.domain.jobs import Job
from chore_tasks.usecases.access import check_limit
from chore_tasks.usecases.commands import JobCommand, ListJobs
from chore_tasks.usecases.ports import JobFilter, TasksUnitOfWork


async def list_jobs(uow: TasksUnitOfWork, cmd: ListJobs, now: datetime) -> Page[Job]:
    policies.ensure_admin(cmd.actor)
    check_limit(cmd.limit)
    query = JobFilter(
        status=cmd.status, kind=cmd.kind, task_id=cmd.task_id, limit=cmd.limit, after=cmd.after
    )
    async with uow:
        return await uow.jobs.list(query)


async def get_job(uow: TasksUnitOfWork, cmd: JobCommand, now: datetime) -> Job:
    policies.ensure_admin(cmd.actor)
    async with uow:
        return await _load(uow, cmd)


async def retry_job(uow: TasksUnitOfWork, cmd: JobCommand, now: datetime) -> Job:
    policies.ensure_admin(cmd.actor)
    async with uow:
        job = await _load(uow, cmd)
        retried = jobs.retry(job, now=now)
        await uow.jobs.save(retried, expected_version=job.version)
        await uow.commit()
    return retried


async def run_job_now(uow: TasksUnitOfWork, cmd: JobCommand, now: datetime) -> Job:
    policies.ensure_admin(cmd.actor)
    async with uow:
        job = await _load(uow, cmd)
        due = jobs.run_now(job, now=now)
        await uow.jobs.save(due, expected_version=job.version)
        await uow.commit()
    return due


async def delete_job(uow: TasksUnitOfWork, cmd: JobCommand, now: datetime) -> None:
    policies.ensure_admin(cmd.actor)
    async with uow:
        job = await _load(uow, cmd)
        jobs.ensure_deletable(job)
        await uow.jobs.delete(job.id)
        await uow.commit()


async def _load(uow: TasksUnitOfWork, cmd: JobCommand) -> Job:
    job = await uow.jobs.get(cmd.job_id)
    if job is None:
        raise JobNotFound(f"no job {cmd.job_id}")
    return job
