"""Typed application keys of the tasks service: what the bootstrap hands the HTTP layer.

Each is typed with a port (`usecases/ports.py`) or a plain value, never an adapter class,
so the api knows what it may call and nothing of how it is built.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from aiohttp import web

from chore_tasks.api.schemas import TaskBodies
from chore_tasks.domain.jobs import RetryPolicy
from chore_tasks.usecases.ports import NewTasks, TaskReadCache, UowFactory

UOW: web.AppKey[UowFactory] = web.AppKey("tasks.uow")
NEW_TASKS: web.AppKey[NewTasks] = web.AppKey("tasks.new_tasks")
RETRY = web.AppKey("tasks.retry", RetryPolicy)
AUTO_CONFIRM_AFTER = web.AppKey("tasks.auto_confirm_after", timedelta)
# How long reviews stay hidden after completion (TASKS_REVIEW_BLIND_DAYS).
REVIEW_BLIND = web.AppKey("tasks.review_blind", timedelta)
WAKE_SCHEDULER: web.AppKey[Callable[[], None]] = web.AppKey("tasks.wake_scheduler")
TASK_CACHE: web.AppKey[TaskReadCache] = web.AppKey("tasks.task_cache")
TASK_BODIES = web.AppKey("tasks.task_bodies", TaskBodies)
# The currency of a task posted without one (TASKS_DEFAULT_CURRENCY).
DEFAULT_CURRENCY: web.AppKey[str] = web.AppKey("tasks.default_currency")
