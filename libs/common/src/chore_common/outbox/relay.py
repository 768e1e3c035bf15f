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
- Rows handed over at commit are marked sent together, up to `mark_delay_s` after their
  PubAck, not in a write transaction each: at one event per request those marks were as
  many transactions as the requests themselves, on SQLite each one queueing for the single
  write lock. A crash before the mark only republishes, which the stream drops.
- Sent rows are pruned after `retention`; `outbox_backlog` and `outbox_oldest_age_seconds`
  show how far behind it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Self
from uuid import UUID

from aiohttp import web
from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge
from sqlalchemy import BigInteger, Row, any_, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chore_common.bus.publisher import MSG_ID, TRACEPARENT, TRACER, parent_context, publish_headers
from chore_common.db.engine import is_sqlite
from chore_common.outbox.table import OUTBOX

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


@dataclass(frozen=True)
class _Row:
    """An outbox row handed over by the unit of work (no id yet: marked by event id)."""

    id: int
    event_id: UUID
    subject: str
    payload: bytes
    headers: dict[str, str]


@dataclass
class _Batch:
    rows: Sequence[OutboxRow] | Sequence[_Row]
    conn: AsyncConnection | None = None  # PostgreSQL: holds the claim's row locks
    by_event_id: bool = False
    futures: list[tuple[Any, asyncio.Future[PubAck]]] = field(default_factory=list)


@dataclass
class _Pipeline:
    """A drain in progress: the claim made ahead, the batch whose PubAcks are awaited."""

    claiming: asyncio.Task[_Batch | None] | None
    finishing: asyncio.Task[tuple[int, bool]] | None = None
    total: int = 0
    caught_up: bool = False


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
        mark_delay_s: float = 0.1,
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
        self.mark_delay_s = mark_delay_s
        self.skip_locked = not is_sqlite(str(engine.url))
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._reader: AsyncConnection | None = None
        self._handed: list[_Row] = []
        self._acked: list[UUID] = []  # handed rows acknowledged and not yet marked sent
        self._mark_due = 0.0  # loop time by which `_acked` is marked
        self._caught_up = False
        self._draining = False
        self._drain_asked = True  # rows may be in the table that no handoff carries
        self._published = EVENTS_PUBLISHED.labels(service)
        self._failures = PUBLISH_FAILURES.labels(service)

    @property
    def caught_up(self) -> bool:
        """The last drain left nothing behind: commits are now handed over, not read back."""
        return self._caught_up

    def wake(self) -> None:
        """Drain now (rows were just committed); cheap and safe to call often."""
        self._drain_asked = True
        self._wakeup.set()

    def handoff(self, messages: Sequence[Mapping[str, Any]]) -> None:
        """Rows this process just committed: publish them at once, without reading them back.

        Only while the relay is caught up (its last drain left nothing behind) or draining,
        so handed rows never overtake a backlog; otherwise this is `wake()`. Rows handed
        during a drain wait for its end: they go out after it if it caught up, and are left
        to the next drain if it did not. Asking for another drain instead kept a relay
        under steady traffic draining for good (each commit during a drain asked for the
        next one), reading back every row and, on SQLite, queueing its marks for the write
        lock in front of the requests. A row both handed off and claimed by a drain is
        published twice and dropped once by the stream.
        """
        if self._caught_up or self._draining:
            self._handed.extend(
                _Row(0, m["event_id"], m["subject"], m["payload"], m["headers"]) for m in messages
            )
        else:
            self._drain_asked = True
        self._wakeup.set()

    # -- batches -----------------------------------------------------------------------

    async def drain(self) -> int:
        """Publish every row unsent right now, batch after batch; returns how many were acked.

        Pipelined: batch k+1 is claimed while batch k is sent, and sent while batch k's
        PubAcks come back and it is marked, so the database round trips hide behind NATS
        ones. Sends stay in row order.
        A batch with a failed publish stops the drain, so later rows do not overtake it
        further; the loop retries after a pause.
        """
        pipe = _Pipeline(asyncio.create_task(self._claim(0)))
        self._caught_up = False
        self._draining = True
        self._handed.clear()  # committed and unmarked: this drain reads them
        try:
            while pipe.claiming is not None and await self._step(pipe, pipe.claiming):
                pass
        finally:
            await self._end_drain(pipe)
        self._caught_up = pipe.caught_up
        return pipe.total

    async def _step(self, pipe: _Pipeline, claiming: asyncio.Task[_Batch | None]) -> bool:
        """Send the claimed batch (claiming the next meanwhile) and settle the one before;
        False when the drain stops here."""
        batch = await claiming
        pipe.claiming = None
        if batch is None:
            pipe.caught_up = True
            return False
        if len(batch.rows) == self.batch_size:
            # Claim the next batch while this one goes out.
            pipe.claiming = asyncio.create_task(self._claim(batch.rows[-1].id))
        try:
            await self._send(batch)
        except BaseException:  # cancelled mid-send (shutdown): release the claim
            if batch.conn is not None:
                await batch.conn.close()
            raise
        if pipe.finishing is not None:
            acked, complete = await pipe.finishing
            pipe.finishing = None
            pipe.total += acked
            if not complete:
                await self._finish(batch)
                return False
        pipe.finishing = asyncio.create_task(self._finish(batch))
        if pipe.claiming is None:
            pipe.caught_up = True
        return True

    async def _end_drain(self, pipe: _Pipeline) -> None:
        """However the drain ends: drop the claim made ahead, settle the last batch."""
        if pipe.claiming is not None:
            await _drop_claim(pipe.claiming)
        if pipe.finishing is not None:
            acked, complete = await pipe.finishing
            pipe.total += acked
            pipe.caught_up = pipe.caught_up and complete
        self._draining = False
        if not pipe.caught_up and self._handed:
            self._handed.clear()  # behind: the next drain sends them in order
            self._drain_asked = True

    async def _publish_handed(self) -> int:
        handed, self._handed = self._handed, []
        batch = _Batch(handed, by_event_id=True)
        await self._send(batch)
        acked, complete = await self._finish(batch)
        if len(self._acked) >= self.batch_size:
            await self.flush_marks()
        if not complete:
            self._caught_up = False  # the rest is in the table: the next drain sends it
            self._wakeup.set()
        return acked

    async def drain_once(self) -> int:
        """Publish one batch of unsent rows; returns how many were acknowledged."""
        batch = await self._claim(0)
        if batch is None:
            return 0
        await self._send(batch)
        return (await self._finish(batch))[0]

    async def _claim(self, after: int) -> _Batch | None:
        query = (
            select(*_COLUMNS)
            .where(OUTBOX.c.sent_at.is_(None), OUTBOX.c.id > after)
            .order_by(OUTBOX.c.id)
            .limit(self.batch_size)
        )
        if not self.skip_locked:
            # SQLite: one relay, so no locks to take; a plain read on a connection kept open
            # (no pool checkout, no BEGIN IMMEDIATE) is what gets the first event after a
            # commit out fastest.
            reader = await self._reader_connection()
            try:
                rows = (await reader.execute(query)).all()
            except BaseException:
                await self._close_reader()
                raise
            return _Batch(rows) if rows else None
        # PostgreSQL: the transaction (and its row locks) stays open until the batch is
        # marked, so other relays skip these rows instead of publishing them too.
        conn = await self.engine.connect()
        try:
            await conn.begin()
            rows = (await conn.execute(query.with_for_update(skip_locked=True))).all()
        except BaseException:
            await conn.close()
            raise
        if not rows:
            await conn.close()
            return None
        return _Batch(rows, conn)

    async def _reader_connection(self) -> AsyncConnection:
        if self._reader is None:
            conn = await self.engine.connect()
            self._reader = await conn.execution_options(isolation_level="AUTOCOMMIT")
        return self._reader

    async def _close_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            with contextlib.suppress(Exception):
                await reader.close()

    async def _send(self, batch: _Batch) -> None:
        """Publish the batch's rows in order without waiting for their PubAcks."""
        tracer = trace.get_tracer(TRACER)
        for row in batch.rows:
            event_id = str(row.event_id)
            stored: dict[str, str] = row.headers or {}
            if TRACEPARENT in stored:
                # Continue the trace of the request that wrote the row.
                with tracer.start_as_current_span(
                    f"{row.subject} publish",
                    context=parent_context(stored),
                    kind=SpanKind.PRODUCER,
                    attributes={"messaging.system": "nats", "messaging.message.id": event_id},
                ):
                    headers = publish_headers(event_id, stored)
            else:
                headers = {**stored, MSG_ID: event_id}
            try:
                future = await self.js.publish_async(row.subject, row.payload, headers=headers)
            except Exception as exc:  # disconnected, buffer full: the rest waits for next time
                log.warning("relay.publish_failed", extra={"error": type(exc).__name__})
                return
            batch.futures.append((row.event_id if batch.by_event_id else row.id, future))

    async def _finish(self, batch: _Batch) -> tuple[int, bool]:
        """Wait for the PubAcks, mark the acknowledged rows sent: (acked, all of them?)."""
        sent: list[Any] = []
        try:
            if batch.futures:
                await asyncio.wait([f for _, f in batch.futures], timeout=self.ack_timeout_s)
            for row_id, future in batch.futures:
                if future.done() and not future.cancelled() and future.exception() is None:
                    sent.append(row_id)
                else:
                    future.cancel()
            if batch.conn is not None:
                await self._mark(batch.conn, sent)
                await batch.conn.commit()
            elif sent and batch.by_event_id:
                if not self._acked:
                    self._mark_due = asyncio.get_running_loop().time() + self.mark_delay_s
                self._acked.extend(sent)  # marked together by flush_marks
            elif sent:
                async with self.engine.begin() as conn:
                    await self._mark(conn, sent)
        finally:
            if batch.conn is not None:
                await batch.conn.close()
        failed = len(batch.rows) - len(sent)
        if failed:
            self._failures.inc(failed)
        self._published.inc(len(sent))
        return len(sent), failed == 0

    async def _mark(self, conn: AsyncConnection, ids: list[int]) -> None:
        if not ids:
            return
        now = datetime.now(UTC)
        if self.skip_locked:
            # One array parameter instead of a thousand-item IN list.
            ids_param = bindparam("ids", type_=ARRAY(BigInteger))
            query = update(OUTBOX).where(OUTBOX.c.id == any_(ids_param)).values(sent_at=now)
            await conn.execute(query, {"ids": ids})
        else:
            await conn.execute(update(OUTBOX).where(OUTBOX.c.id.in_(ids)).values(sent_at=now))

    async def flush_marks(self) -> int:
        """Mark the acknowledged handed rows sent, in one transaction; returns how many.

        Before any drain too, so a drain never reads back rows already published."""
        ids, self._acked = self._acked, []
        if not ids:
            return 0
        try:
            async with self.engine.begin() as conn:
                await self._mark_events(conn, ids)
        except BaseException:
            self._acked[:0] = ids  # still published; marked on the next try
            raise
        return len(ids)

    async def _mark_events(self, conn: AsyncConnection, event_ids: list[UUID]) -> None:
        await conn.execute(
            update(OUTBOX)
            .where(OUTBOX.c.event_id.in_(event_ids), OUTBOX.c.sent_at.is_(None))
            .values(sent_at=datetime.now(UTC))
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
        """Publish what is handed over at once; drain the table when asked (`wake()`, a
        handoff while behind, a failure) and every `poll_interval_s`; forever (a task).

        A wake-up that only found its rows already published (they were handed over while
        the previous ones went out) drains nothing: such a drain was a claim query per
        request, and on PostgreSQL a transaction too."""
        loop = asyncio.get_running_loop()
        next_prune = loop.time() + self.prune_every_s
        next_metrics = loop.time()
        next_poll = loop.time()
        failures = 0
        while True:
            try:
                if self._handed:
                    await self._publish_handed()
                elif self._drain_asked or not self._caught_up or loop.time() >= next_poll:
                    self._drain_asked = False
                    next_poll = loop.time() + self.poll_interval_s
                    await self.flush_marks()
                    await self.drain()
                elif self._acked and loop.time() >= self._mark_due:
                    await self.flush_marks()
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
                self._caught_up = False
                self._handed.clear()  # still in the table: a drain sends them
                failures += 1
                log.warning("relay.drain_failed", extra={"error": f"{type(exc).__name__}"})
                await asyncio.sleep(min(2.0, 0.05 * 2**failures))
                continue
            if self._handed:
                continue
            wait_until = min(next_poll, self._mark_due) if self._acked else next_poll
            wait_s = max(0.0, wait_until - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), wait_s)
            self._wakeup.clear()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

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
            await asyncio.wait_for(self.flush_marks(), max(0.01, deadline - time.monotonic()))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.drain(), max(0.01, deadline - time.monotonic()))
        await self._close_reader()


async def _drop_claim(claiming: asyncio.Task[_Batch | None]) -> None:
    """Abandon a claim made ahead of time, releasing its row locks."""
    claiming.cancel()
    try:
        batch = await claiming
    except BaseException:  # cancelled or failed: `_claim` released its connection itself
        return
    if batch is not None and batch.conn is not None:
        await batch.conn.close()


RELAY = web.AppKey("chore.outbox.relay", Relay)


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
