"""`create_app(settings)`: the tasks service as an aiohttp application.

Resources start in order and stop in reverse: database, NATS (+ streams), outbox relay,
token verifier (JWKS + the revocation feed), then tasks' own (unit of work, scheduler):
the scheduler stops (running jobs finish) before the relay flushes and the engine closes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from chore_common.assembly import storage_app
from chore_common.auth.principal import bearer_middleware
from chore_common.bus.connection import NATS_CLIENT
from chore_common.db import ENGINE
from chore_common.db.migrations import upgrade_head
from chore_common.outbox.relay import RELAY
from chore_tasks.adapters.cache import INVALIDATOR, cache_context
from chore_tasks.adapters.group_commit import GroupCommit, TransactionEach
from chore_tasks.adapters.scheduler import Scheduler, scheduler_context
from chore_tasks.adapters.uow import TasksUnitOfWork
from chore_tasks.api.admin_page import sign_in_for_browsers
from chore_tasks.api.routes import ROUTES
from chore_tasks.keys import NEW_TASKS, RETRY, TASK_CACHE, UOW, WAKE_SCHEDULER
from chore_tasks.settings import TasksSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def migrate(settings: TasksSettings) -> None:
    upgrade_head(settings.database_url, MIGRATIONS)


def create_app(settings: TasksSettings) -> web.Application:
    app = storage_app(settings, migrations=MIGRATIONS)
    for routes in ROUTES:
        app.add_routes(routes)
    app.middlewares.append(sign_in_for_browsers)  # outside the bearer check it answers for
    app.middlewares.append(bearer_middleware)
    if settings.cache_size > 0:
        app.cleanup_ctx.append(cache_context(settings.cache_size, lambda a: a[NATS_CLIENT]))
    app.cleanup_ctx.append(_tasks_context(settings))
    if settings.scheduler_enabled:
        app.cleanup_ctx.append(
            scheduler_context(lambda a: _scheduler(a, settings), grace_s=settings.shutdown_grace_s)
        )
    return app


def _scheduler(app: web.Application, settings: TasksSettings) -> Scheduler:
    scheduler = Scheduler(
        app[ENGINE],
        app[UOW],
        settings.retry_policy,
        poll_s=settings.scheduler_poll_s,
        batch=settings.scheduler_batch,
        concurrency=settings.scheduler_concurrency,
    )
    app[WAKE_SCHEDULER] = scheduler.wake
    return scheduler


def _tasks_context(
    settings: TasksSettings,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        engine, relay = app[ENGINE], app[RELAY]
        changed = None
        if settings.cache_size > 0:
            invalidator = app[INVALIDATOR]
            app[TASK_CACHE] = invalidator.cache
            changed = invalidator.tasks_changed

        def uow() -> TasksUnitOfWork:
            return TasksUnitOfWork(
                engine,
                producer=settings.service_name,
                relay=relay,
                on_tasks_changed=changed,
            )

        app[UOW] = uow
        app[RETRY] = settings.retry_policy
        if not settings.group_commit:
            app[NEW_TASKS] = TransactionEach(uow)
            yield
            return
        group = GroupCommit(uow)
        group.start()
        app[NEW_TASKS] = group
        try:
            yield
        finally:
            await group.close()

    return ctx
