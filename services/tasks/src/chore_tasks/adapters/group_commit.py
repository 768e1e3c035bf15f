"""New tasks posted at the same time are written in one transaction: group commit.

A new task is two inserts (the task, its outbox row; three with a due date's expiry job).
Written alone, each also pays a pool checkout, a BEGIN and a COMMIT: on PostgreSQL half of
its round trips, on SQLite a turn of the single write lock. While one batch is being
written, the tasks posted meanwhile queue and go together in the next transaction. A lone
post goes at once: nothing waits on a timer, so one client sees the same latency as before
and many clients share the fixed cost.

A 201 still means committed: each request answers only once its batch has committed. If a
batch fails for any reason but the database being down or saturated (a row the database
refuses, a value a driver cannot send, a bug), each of its posts is retried in a
transaction of its own, so one request's error fails that request alone and the rest are
kept. If the database is down, every post of the batch gets the 503.

Only creations are grouped: they insert new rows and read nothing, so sharing a transaction
cannot change what any of them decides. Moves of existing tasks keep a transaction each.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from opentelemetry import context as otel_context
from opentelemetry import trace

from chore_common.errors import Unavailable
from chore_common.http.problem import database_unreachable
from chore_common.telemetry import tracing
from chore_tasks.domain.events import TaskCreated
from chore_tasks.domain.jobs import Job
from chore_tasks.domain.model import Task
from chore_tasks.usecases.ports import UowFactory

log = logging.getLogger(__name__)

MAX_BATCH = 64  # bounds one transaction's size (and what a failed batch retries one by one)


@dataclass(slots=True)
class _Post:
    task: Task
    expiry: Job | None
    event: TaskCreated
    # The request's context: the outbox row carries the trace of the request that posted it.
    context: contextvars.Context
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def settle(self, error: BaseException | None = None) -> None:
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)


class GroupCommit:
    """`await creates.add(task, expiry, event)` returns once they are committed."""

    def __init__(self, uow: UowFactory, *, max_batch: int = MAX_BATCH) -> None:
        self._uow = uow
        self._max_batch = max_batch
        self._queue: list[_Post] = []
        self._wakeup = asyncio.Event()
        self._closing = False
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_forever(), name="tasks-group-commit")

    async def close(self) -> None:
        """Write what is queued, then stop (after the HTTP server has stopped taking posts)."""
        self._closing = True
        self._wakeup.set()
        if self._writer is not None:
            await self._writer

    async def add(self, task: Task, expiry: Job | None, event: TaskCreated) -> None:
        if self._writer is None or self._writer.done() or self._closing:
            # Stopping (or its writer died): refuse honestly rather than queue a post forever.
            raise Unavailable("The service is shutting down; try again.", retry_after=1)
        post = _Post(task, expiry, event, contextvars.copy_context())
        self._queue.append(post)
        self._wakeup.set()
        # Shielded: a client that hangs up does not cancel a write its batch may already
        # hold; the post is committed or failed like the others either way.
        await asyncio.shield(post.done)

    async def _write_forever(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                try:
                    await self._write(batch)
                except BaseException:  # cancelled: nothing queued is left waiting
                    stopped = Unavailable("The service is shutting down; try again.")
                    for post in batch + self._queue:
                        post.settle(stopped)
                    raise
            if self._closing:
                return

    async def _write(self, batch: list[_Post]) -> None:
        try:
            await _write_together(self._uow, batch)
        except Exception as exc:
            if len(batch) == 1 or database_unreachable(exc) is not None:
                # Alone already, or the database is down or saturated: each post would
                # fail alone the same way, so all get this error (503 + Retry-After).
                for post in batch:
                    post.settle(exc)
                return
            log.warning(
                "tasks.group_commit_retried_alone",
                extra={"posts": len(batch), "error": type(exc).__name__},
            )
            await self._write_alone(batch)
            return
        for post in batch:
            post.settle()

    async def _write_alone(self, batch: list[_Post]) -> None:
        for n, post in enumerate(batch):
            try:
                await _write_together(self._uow, [post])
            except Exception as alone:
                post.settle(alone)
                if database_unreachable(alone) is not None:
                    # The database went down meanwhile: the rest would wait on it in turn.
                    for rest in batch[n + 1 :]:
                        rest.settle(alone)
                    return
            else:
                post.settle()


class TransactionEach:
    """The plain way, one transaction per post (`TASKS_GROUP_COMMIT=false`; the benchmark's
    side-by-side figure)."""

    def __init__(self, uow: UowFactory) -> None:
        self._uow = uow

    async def add(self, task: Task, expiry: Job | None, event: TaskCreated) -> None:
        await _write_together(self._uow, [_Post(task, expiry, event, contextvars.copy_context())])


async def _write_together(uow_factory: UowFactory, batch: list[_Post]) -> None:
    with _batch_span(batch):
        await _insert(uow_factory, batch)


def _batch_span(batch: list[_Post]) -> AbstractContextManager[trace.Span]:
    """The batch's transaction runs in the writer's task, outside every request's context:
    this span is the child of its first post's request and links the others', so the
    statements under it are not traces of their own."""
    first, *others = batch
    links = []
    for post in others:
        context = post.context.run(lambda: trace.get_current_span().get_span_context())
        if context.is_valid:
            links.append(trace.Link(context))
    return tracing.tracer().start_as_current_span(
        "tasks.group_commit",
        context=first.context.run(otel_context.get_current),
        links=links,
        attributes={"tasks.batch_size": len(batch)},
    )


async def _insert(uow_factory: UowFactory, batch: list[_Post]) -> None:
    async with uow_factory() as uow:
        # One executemany per table: on PostgreSQL a pipelined round trip for them all.
        await uow.tasks.add(*(post.task for post in batch))
        expiries = [post.expiry for post in batch if post.expiry is not None]
        if expiries:
            await uow.jobs.add(*expiries)
        for post in batch:
            post.context.run(uow.record, post.event)
        await uow.commit()
