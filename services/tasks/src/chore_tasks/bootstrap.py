"""The one place the tasks service builds its adapters and hands them to the app as ports.

`bootstrap(app, settings)` comes after the kit's resources (database, NATS, outbox relay,
token verifier) and adds tasks' own, started in this order and stopped in reverse:
- the read cache (when `cache_size` > 0), listening for other replicas' invalidations;
- the unit of work factory and the way new tasks are written (group commit or one
  transaction each);
- the scheduler (when enabled): it stops, its running jobs finishing, before the group
  commit writes its last batch, the relay flushes and the engine closes;
- the consumer of auth's events about people (when enabled), which stops with its batch.
The HTTP layer reaches them only through `keys.py`, typed with ports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import cast

from aiohttp import web
from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.bus.connection import NATS_CLIENT
from chore_common.bus.consumer import consumer_context
from chore_common.db import ENGINE
from chore_common.outbox.record import RelayHandoff
from chore_common.outbox.relay import RELAY
from chore_common.uow import UnitOfWork
from chore_tasks.adapters.cache import CacheInvalidator, TaskCache, nats_link
from chore_tasks.adapters.consumers import auth_consumer
from chore_tasks.adapters.group_commit import GroupCommit, TransactionEach
from chore_tasks.adapters.scheduler import Scheduler
from chore_tasks.adapters.uow import TasksUnitOfWork
from chore_tasks.api.schemas import TaskBodies
from chore_tasks.keys import (
    AUTO_CONFIRM_AFTER,
    DEFAULT_CURRENCY,
    NEW_TASKS,
    RETRY,
    REVIEW_BLIND,
    TASK_BODIES,
    TASK_CACHE,
    UOW,
    WAKE_SCHEDULER,
)
from chore_tasks.settings import TasksSettings
from chore_tasks.usecases.ports import NewTasks, UowFactory

SqlUowFactory = Callable[[], UnitOfWork]
CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def bootstrap(app: web.Application, settings: TasksSettings) -> None:
    app[RETRY] = settings.retry_policy
    app[AUTO_CONFIRM_AFTER] = settings.auto_confirm_after
    app[REVIEW_BLIND] = settings.review_blind_period
    app[DEFAULT_CURRENCY] = settings.default_currency
    app[TASK_BODIES] = TaskBodies()
    app.cleanup_ctx.append(_storage(settings))
    if settings.scheduler_enabled:
        app.cleanup_ctx.append(_scheduler(settings))
    if settings.consumer_enabled:
        app.cleanup_ctx.append(
            consumer_context(
                # The port's unit of work is the kit's SQL one (adapters/uow.py).
                lambda a: auth_consumer(a[NATS_CLIENT].jetstream(), cast(SqlUowFactory, a[UOW])),
                grace_s=settings.shutdown_grace_s,
            )
        )


def _storage(settings: TasksSettings) -> CleanupContext:
    """The read cache, the unit of work factory and the writer of new tasks."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            invalidator: CacheInvalidator | None = None
            if settings.cache_size > 0:
                invalidator = _read_cache(app[NATS_CLIENT], settings.cache_size)
                await stack.enter_async_context(invalidator.listening())
                app[TASK_CACHE] = invalidator.cache
            uow = _uow_factory(app[ENGINE], app[RELAY], settings.service_name, invalidator)
            app[UOW] = uow
            app[NEW_TASKS] = await stack.enter_async_context(
                _new_tasks(uow, grouped=settings.group_commit)
            )
            yield

    return ctx


def _read_cache(nc: NATS, size: int) -> CacheInvalidator:
    return CacheInvalidator(TaskCache(size, link=nats_link(nc)), nc)


def _uow_factory(
    engine: AsyncEngine, relay: RelayHandoff, producer: str, cache: CacheInvalidator | None
) -> UowFactory:
    tasks = cache.tasks_changed if cache is not None else None
    people = cache.people_changed if cache is not None else None

    def uow() -> TasksUnitOfWork:
        return TasksUnitOfWork(
            engine,
            producer=producer,
            relay=relay,
            on_tasks_changed=tasks,
            on_people_changed=people,
        )

    return uow


@asynccontextmanager
async def _new_tasks(uow: UowFactory, *, grouped: bool) -> AsyncIterator[NewTasks]:
    if not grouped:  # `TASKS_GROUP_COMMIT=false`
        yield TransactionEach(uow)
        return
    group = GroupCommit(uow)
    group.start()
    try:
        yield group
    finally:
        await group.close()  # after the HTTP server stopped taking posts


def _scheduler(settings: TasksSettings) -> CleanupContext:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        scheduler = Scheduler(
            app[ENGINE],
            app[UOW],
            settings.retry_policy,
            poll_s=settings.scheduler_poll_s,
            batch=settings.scheduler_batch,
            concurrency=settings.scheduler_concurrency,
        )
        app[WAKE_SCHEDULER] = scheduler.wake
        async with scheduler.running(grace_s=settings.shutdown_grace_s):
            yield

    return ctx
