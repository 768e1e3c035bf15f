"""Typed application keys of the tasks service."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from chore_tasks.domain.jobs import RetryPolicy
from chore_tasks.usecases.ports import NewTasks, TaskReadCache, TasksUnitOfWork

UowFactory = Callable[[], TasksUnitOfWork]

UOW: web.AppKey[UowFactory] = web.AppKey("tasks.uow")
NEW_TASKS: web.AppKey[NewTasks] = web.AppKey("tasks.new_tasks")
RETRY = web.AppKey("tasks.retry", RetryPolicy)
WAKE_SCHEDULER: web.AppKey[Callable[[], None]] = web.AppKey("tasks.wake_scheduler")
TASK_CACHE: web.AppKey[TaskReadCache] = web.AppKey("tasks.task_cache")
