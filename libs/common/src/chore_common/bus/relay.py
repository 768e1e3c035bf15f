"""The outbox relay: publishes committed outbox rows to JetStream, oldest first.

A row is marked sent only after its PubAck, so a relay that dies at any point loses
nothing: the next one republishes what was not marked, and the stream drops the repeat by
`Nats-Msg-Id` (consumers' inboxes catch anything older than the duplicate window).

- Claiming: PostgreSQL takes a batch with `FOR UPDATE SKIP LOCKED` and keeps the lock
  until the batch is marked, so any number of replicas relay side by side without
  publishing the same row twice. SQLite has one writer anyway: one relay reads a batch,
  publishes it, then marks it in a second short transaction, so the write lock is never
  held while waiting on NATS.
- Throughput: rows are claimed in batches and published with many PubAcks in flight.
- Latency: `wake()` (called by the unit of work right after commit) starts a drain at
  once; a poll loop covers rows left behind by a crash or written by another process.
- Sent rows are pruned after `retention`; `outbox_backlog` and `outbox_oldest_age_seconds`
  show how far behind it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from aiohttp import web
from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge
from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chore_common.bus.publisher import TRACER, parent_context, publish_headers
from chore_common.db.engine import is_sqlite
from chore_common.db.tables import OUTBOX

log = logging.getLogger(__name__)

OUTBOX_BACKLOG = Gauge(
    "outbox_backlog",
    "Outbox rows committed but not yet acknowledged by JetStream",
    ["service"],
    multiprocess_mode="max",
)
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_age_seconds",
    "Age of the oldest unsent outbox row (0 when none)",
    ["service"],
    multiprocess_mode="max",
)
EVENTS_PUBLISHED = Counter(
    "events_published_total", "Outbox rows published and acknowledged", ["service"]
)
PUBLISH_FAILURES = Counter(
    "events_publish_failures_total",
    "Outbox rows whose publish failed or timed out (retried later)",
    ["service"],
)

OutboxRow = Row[Any, Any, Any, Any, Any]
_COLUMNS: Final = (
    OUTBOX.c.id,
    OUTBOX.c.event_id,
    OUTBOX.c.subject,
    OUTBOX.c.payload,
    OUTBOX.c.headers,
)


class Relay:
    def __init__(
        self,
        engine: AsyncEngine,
        js: JetStreamContext,
        *,
        service: str,
        batch_size: int = 1000,
        poll_interval_s: float = 1.0,
        ack_timeout_s: float = 5.0,
        retention: timedelta = timedelta(days=1),
        prune_every_s: float = 60.0,
        metrics_every_s: float = 5.0,
    ) -> None:
        self.engine = engine
        self.js = js
        self.service = service
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.ack_timeout_s = ack_timeout_s
        self.retention = retention
        self.prune_every_s = prune_every_s
        self.metrics_every_s = metrics_every_s
        self.skip_locked = not is_sqlite(str(engine.url))
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._published = EVENTS_PUBLISHED.labels(service)
        self._failures = PUBLISH_FAILURES.labels(service)

    def wake(self) -> None:
        """Drain now (rows were just committed); cheap and safe to call often."""
        self._wakeup.set()

    # -- one batch -------------------------------------------------------------------

    async def drain_once(self) -> int:
        """Publish one batch of unsent rows; returns how many were acknowledged."""
        if self.skip_locked:
            async with self.engine.begin() as conn:
                rows = await self._claim(conn, lock=True)
                sent = await self._publish(rows)
                await self._mark(conn, sent)
            return len(sent)
        async with self.engine.begin() as conn:
            rows = await self._claim(conn, lock=False)
        if not rows:
            return 0
        sent = await self._publish(rows)
        if sent:
            async with self.engine.begin() as conn:
                await self._mark(conn, sent)
        return len(sent)

    async def _claim(self, conn: AsyncConnection, *, lock: bool) -> Sequence[OutboxRow]:
        query = (
            select(*_COLUMNS)
            .where(OUTBOX.c.sent_at.is_(None))
            .order_by(OUTBOX.c.id)
            .limit(self.batch_size)
        )
        if lock:
            query = query.with_for_update(skip_locked=True)
        return (await conn.execute(query)).all()

    async def _publish(self, rows: Sequence[OutboxRow]) -> list[int]:
        """Publish `rows` with their acks in flight together; ids of the acknowledged ones."""
        if not rows:
            return []
        tracer = trace.get_tracer(TRACER)
        futures: list[tuple[int, asyncio.Future[PubAck]]] = []
        for row in rows:
            stored: dict[str, str] = row.headers or {}
            # Continue the trace of the request that wrote the row.
            with tracer.start_as_current_span(
                f"{row.subject} publish",
                context=parent_context(stored),
                kind=SpanKind.PRODUCER,
                attributes={"messaging.system": "nats", "messaging.message.id": str(row.event_id)},
            ):
                headers = publish_headers(str(row.event_id), stored)
            try:
                future = await self.js.publish_async(row.subject, row.payload, headers=headers)
            except Exception as exc:  # disconnected, buffer full: the rest waits for next time
                log.warning("relay.publish_failed", extra={"error": type(exc).__name__})
                break
            futures.append((row.id, future))
        if not futures:
            self._failures.inc(len(rows))
            return []
        await asyncio.wait([f for _, f in futures], timeout=self.ack_timeout_s)
        sent: list[int] = []
        for row_id, future in futures:
            if future.done() and not future.cancelled() and future.exception() is None:
                sent.append(row_id)
            else:
                future.cancel()
        if len(sent) < len(rows):
            self._failures.inc(len(rows) - len(sent))
        self._published.inc(len(sent))
        return sent

    async def _mark(self, conn: AsyncConnection, ids: list[int]) -> None:
        if ids:
            await conn.execute(
                update(OUTBOX).where(OUTBOX.c.id.in_(ids)).values(sent_at=datetime.now(UTC))
            )

    # -- housekeeping ------------------------------------------------------------------

    async def prune(self) -> int:
        """Delete rows sent more than `retention` ago."""
        cutoff = datetime.now(UTC) - self.retention
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(OUTBOX).where(OUTBOX.c.sent_at < cutoff))
        return int(result.rowcount)

    async def refresh_metrics(self) -> tuple[int, float]:
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            count, oldest = (
                await conn.execute(
                    select(func.count(), func.min(OUTBOX.c.created_at)).where(
                        OUTBOX.c.sent_at.is_(None)
                    )
                )
            ).one()
        age = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:  # SQLite hands back naive datetimes
                oldest = oldest.replace(tzinfo=UTC)
            age = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        OUTBOX_BACKLOG.labels(self.service).set(count)
        OUTBOX_OLDEST_AGE.labels(self.service).set(age)
        return int(count), age

    # -- the loop ----------------------------------------------------------------------

    async def run(self) -> None:
        """Drain whenever woken or every `poll_interval_s`, forever (run it as a task)."""
        loop = asyncio.get_running_loop()
        next_prune = loop.time() + self.prune_every_s
        next_metrics = loop.time()
        failures = 0
        while True:
            try:
                while await self.drain_once() >= self.batch_size:
                    pass  # a full batch: there is probably more
                failures = 0
                now = loop.time()
                if now >= next_metrics:
                    next_metrics = now + self.metrics_every_s
                    await self.refresh_metrics()
                if now >= next_prune:
                    next_prune = now + self.prune_every_s
                    await self.prune()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database or NATS down: back off, keep the rows
                failures += 1
                log.warning("relay.drain_failed", extra={"error": f"{type(exc).__name__}"})
                await asyncio.sleep(min(2.0, 0.05 * 2**failures))
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.poll_interval_s)
            self._wakeup.clear()

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"outbox-relay-{self.service}")
        return self._task

    async def stop(self, *, flush_timeout_s: float = 5.0) -> None:
        """Stop the loop, then publish what is still unsent, for up to `flush_timeout_s`."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        deadline = time.monotonic() + flush_timeout_s
        with contextlib.suppress(Exception):
            while time.monotonic() < deadline:
                remaining = deadline - time.monotonic()
                if await asyncio.wait_for(self.drain_once(), max(0.01, remaining)) == 0:
                    break


RELAY = web.AppKey("chore.bus.relay", Relay)


def relay_context(
    service: str,
    engine: Callable[[web.Application], AsyncEngine],
    js: Callable[[web.Application], JetStreamContext],
    *,
    flush_timeout_s: float = 5.0,
    **options: Any,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx running the relay for the app's engine; `app[RELAY].wake` for the UoW."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        relay = Relay(engine(app), js(app), service=service, **options)
        app[RELAY] = relay
        relay.start()
        try:
            yield
        finally:
            await relay.stop(flush_timeout_s=flush_timeout_s)

    return ctx
