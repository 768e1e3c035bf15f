"""Durable pull consumers: explicit ack, bounded in flight, retries with backoff, dead letters.

For each fetched batch, the inbox check, the handlers and the inbox insert run in ONE
database transaction, then one commit, then the acks. A redelivered event finds its id in
the inbox and changes nothing. If a handler raises, the batch is rolled back and the
other events are applied again one transaction each, so the failing event fails alone:
it is nak'ed with a delay from the backoff schedule, and after `max_deliver` deliveries
copied to `dlq.<STREAM>` and terminated. Several events per commit is what lets a
consumer keep up with a relay, since a commit (a disk flush) is the expensive part.

`max_deliver` is enforced here, not by the server (the server's is unlimited): when the
dead-letter publish itself fails (NATS blipped) the message is nak'ed and comes back, so
it reaches the DLQ later instead of being stranded by a server-side delivery limit.

A handler that knows trying again cannot help (a broken mail template) raises
`Unprocessable`: that event goes to the DLQ at once, with the error, reason "unprocessable".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

from aiohttp import web
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Gauge, Histogram
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from chore_common.bus.dlq import dead_letter
from chore_common.bus.publisher import TRACER, parent_context
from chore_common.contracts.envelope import Envelope
from chore_common.contracts.registry import Contract
from chore_common.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[Envelope, Any, UnitOfWork], Awaitable[None]]

CONSUMED = Counter(
    "events_consumed_total",
    "Events taken off a stream, by outcome (handled, duplicate, ignored, failed)",
    ["stream", "consumer", "outcome"],
)
REDELIVERED = Counter(
    "events_redelivered_total", "Deliveries after the first", ["stream", "consumer"]
)
DEAD_LETTERED = Counter(
    "events_dead_lettered_total",
    "Events copied to the dead-letter stream, by reason",
    ["stream", "consumer", "reason"],
)
HANDLER_SECONDS = Histogram(
    "event_handler_duration_seconds",
    "Time in a handler (inbox check included), per event",
    ["stream", "consumer"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
PENDING = Gauge(
    "consumer_pending",
    "Messages in the stream not yet delivered to this consumer (its lag)",
    ["stream", "consumer"],
    multiprocess_mode="max",
)


class Unprocessable(Exception):
    """Raised by a handler for an event no retry can apply: dead-lettered at once."""


HANDLED: Final = "handled"
DUPLICATE: Final = "duplicate"
IGNORED: Final = "ignored"
FAILED: Final = "failed"


@dataclass(frozen=True)
class ConsumerSpec:
    stream: str
    durable: str
    subjects: tuple[str, ...] = ()  # filter subjects; empty means the whole stream
    max_deliver: int = 5
    ack_wait_s: float = 30.0
    max_ack_pending: int = 1000
    backoff_s: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)
    batch_size: int = 64
    idle_fetch_s: float = 5.0
    # Inbox ids older than this are forgotten; keep it above the stream's max age (7 days),
    # since a redelivery cannot be older than the message it repeats.
    inbox_retention_s: float = 14 * 24 * 3600
    inbox_prune_every_s: float = 3600

    def delay_after(self, deliveries: int) -> float:
        """Nak delay after the `deliveries`-th failed delivery: grows, then stays."""
        if not self.backoff_s:
            return 0.0
        return self.backoff_s[min(max(deliveries, 1), len(self.backoff_s)) - 1]


@dataclass
class _Work:
    msg: Msg
    envelope: Envelope
    payload: Contract
    handler: Handler
    outcome: str = FAILED
    error: str = ""
    unprocessable: bool = False


class Consumer:
    """`consumer.on(TaskCreatedV1, handler)` for each event type, then `start()`."""

    def __init__(
        self, js: JetStreamContext, spec: ConsumerSpec, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self.js = js
        self.spec = spec
        self._uow_factory = uow_factory
        self._handlers: dict[str, dict[int, tuple[type[Contract], Handler]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()
        labels = (spec.stream, spec.durable)
        self._consumed = {
            o: CONSUMED.labels(*labels, o) for o in (HANDLED, DUPLICATE, IGNORED, FAILED)
        }
        self._redelivered = REDELIVERED.labels(*labels)
        self._latency = HANDLER_SECONDS.labels(*labels)
        self._pending = PENDING.labels(*labels)

    def on(self, contract: type[Contract], handler: Handler) -> None:
        self._handlers.setdefault(contract.TYPE, {})[contract.VERSION] = (contract, handler)

    # -- setup -------------------------------------------------------------------------

    def consumer_config(self) -> ConsumerConfig:
        subjects = list(self.spec.subjects)
        return ConsumerConfig(
            durable_name=self.spec.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.spec.ack_wait_s,
            max_deliver=-1,  # enforced here, see the module docstring
            max_ack_pending=self.spec.max_ack_pending,
            filter_subject=subjects[0] if len(subjects) == 1 else None,
            filter_subjects=subjects if len(subjects) > 1 else None,
        )

    async def ensure(self) -> None:
        """Create or update the durable consumer (idempotent)."""
        await self.js.add_consumer(self.spec.stream, self.consumer_config())

    # -- the loop ----------------------------------------------------------------------

    async def run(self) -> None:
        await self.ensure()
        sub = await self.js.pull_subscribe_bind(self.spec.durable, self.spec.stream)
        try:
            await self._fetch_and_process(sub)
        finally:
            await _unsubscribe(sub, self.spec.durable)

    async def _fetch_and_process(self, sub: JetStreamContext.PullSubscription) -> None:
        more = False
        loop = asyncio.get_running_loop()
        next_prune = loop.time() + self.spec.inbox_prune_every_s
        while not self._stopping:
            if loop.time() >= next_prune:
                next_prune = loop.time() + self.spec.inbox_prune_every_s
                await self.prune_inbox()
            try:
                if more:
                    # Messages are waiting: take what is there now, without lingering.
                    msgs = await sub.fetch(self.spec.batch_size, timeout=0.25)
                else:
                    # Idle: one long poll that returns the moment an event arrives.
                    msgs = await sub.fetch(1, timeout=self.spec.idle_fetch_s)
            except TimeoutError:
                more = False
                continue
            except Exception as exc:  # disconnected: the client reconnects, we keep asking
                log.warning("consumer.fetch_failed", extra={"error": type(exc).__name__})
                more = False
                await asyncio.sleep(0.25)
                continue
            self._idle.clear()
            try:
                await self.process(msgs)
            except Exception:  # unacked messages come back after ack_wait
                log.exception("consumer.batch_failed", extra={"consumer": self.spec.durable})
            finally:
                self._idle.set()
            last = msgs[-1].metadata
            self._pending.set(last.num_pending)
            more = last.num_pending > 0

    async def prune_inbox(self) -> int:
        """Forget inbox ids older than the retention; returns how many."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.spec.inbox_retention_s)
        try:
            async with self._new_uow() as uow:
                pruned = await uow.inbox.forget_before(cutoff)
                await uow.commit()
        except Exception as exc:  # housekeeping: try again next time
            log.warning("consumer.inbox_prune_failed", extra={"error": type(exc).__name__})
            return 0
        return pruned

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name=f"consumer-{self.spec.durable}")
        return self._task

    async def stop(self, *, grace_s: float = 10.0) -> None:
        """Let the batch in hand finish (up to `grace_s`), then stop fetching and end the
        subscription: a fetch cancelled mid-wait is the normal way out of an idle loop."""
        self._stopping = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace_s)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- one batch ---------------------------------------------------------------------

    async def process(self, msgs: list[Msg]) -> None:
        work: list[_Work] = []
        for msg in msgs:
            if msg.metadata.num_delivered > 1:
                self._redelivered.inc()
            item = await self._triage(msg)
            if item is not None:
                work.append(item)
        if not work:
            return
        await self._apply(work)
        for item in work:
            self._consumed[item.outcome].inc()
            if item.outcome == FAILED and item.unprocessable:
                await self._dead_letter(item.msg, "unprocessable", item.error)
            elif item.outcome == FAILED:
                await self._retry_or_dead_letter(item.msg, item.error)
            else:
                await item.msg.ack()

    async def _triage(self, msg: Msg) -> _Work | None:
        """Parse and route one message; returns None when it was settled here."""
        try:
            envelope = Envelope.from_bytes(msg.data)
        except ValidationError as exc:
            await self._dead_letter(msg, "malformed", str(exc))
            return None
        versions = self._handlers.get(envelope.type)
        if versions is None:
            self._consumed[IGNORED].inc()
            await msg.ack()  # a type this consumer does not care about
            return None
        entry = versions.get(envelope.version)
        if entry is None:
            known = ", ".join(f"v{v}" for v in sorted(versions))
            await self._dead_letter(
                msg,
                "unknown_version",
                f"{envelope.type} v{envelope.version}: {self.spec.durable} handles {known}",
            )
            return None
        contract, handler = entry
        try:
            payload = envelope.payload(contract)
        except ValidationError as exc:
            await self._dead_letter(msg, "invalid_payload", str(exc))
            return None
        return _Work(msg, envelope, payload, handler)

    async def _apply(self, work: list[_Work]) -> None:
        """Set each item's outcome, committing the successful ones.

        Optimistic: the whole batch in one transaction (one inbox query, one inbox insert,
        one commit). If a handler raises, that transaction is rolled back and the others
        are applied again one transaction each, so the failing event fails alone.
        """
        if len(work) > 1:
            failed = await self._apply_together(work)
            if failed is None:
                return
            for index, item in enumerate(work):
                if index != failed:
                    await self._apply_alone(item)
            return
        await self._apply_alone(work[0])

    async def _apply_together(self, work: list[_Work]) -> int | None:
        """None when committed; else the index of the failed item (-1: the commit failed)."""
        async with self._new_uow() as uow:
            seen = await uow.inbox.seen_among([item.envelope.id for item in work])
            fresh: list[UUID] = []
            for index, item in enumerate(work):
                if item.envelope.id in seen:
                    item.outcome = DUPLICATE
                    continue
                if not await self._run_handler(uow, item):
                    return index
                item.outcome = HANDLED
                seen.add(item.envelope.id)  # the same event twice in one batch: apply once
                fresh.append(item.envelope.id)
            await uow.inbox.add_all(fresh)
            try:
                await uow.commit()
            except Exception as exc:
                log.warning("consumer.commit_failed", extra={"error": type(exc).__name__})
                return -1
        return None

    async def _apply_alone(self, item: _Work) -> None:
        async with self._new_uow() as uow:
            try:
                try:
                    # Record the id first: a redelivery fails here, before the handler runs,
                    # and a concurrent copy waits on the key instead of running it twice.
                    await uow.inbox.add(item.envelope.id)
                except IntegrityError:
                    item.outcome = DUPLICATE  # redelivery: already applied
                    return
                if not await self._run_handler(uow, item):
                    return
                await uow.commit()
            except Exception as exc:
                item.outcome, item.error = FAILED, f"{type(exc).__name__}: {exc}"
                return
            item.outcome = HANDLED

    def _new_uow(self) -> UnitOfWork:
        uow = self._uow_factory()
        uow.consumer = self.spec.durable
        return uow

    async def _run_handler(self, uow: UnitOfWork, item: _Work) -> bool:
        """Run the handler in a CONSUMER span continuing the producer's trace."""
        tracer = trace.get_tracer(TRACER)
        with tracer.start_as_current_span(
            f"{item.msg.subject} process",
            context=parent_context(item.msg.headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.message.id": str(item.envelope.id),
                "messaging.consumer.group.name": self.spec.durable,
            },
            record_exception=False,  # _handle records it with the outcome
            set_status_on_exception=False,
        ) as span:
            return await self._handle(uow, item, span)

    async def _handle(self, uow: UnitOfWork, item: _Work, span: trace.Span) -> bool:
        started = time.perf_counter()
        try:
            await item.handler(item.envelope, item.payload, uow)
        except Exception as exc:
            item.outcome, item.error = FAILED, f"{type(exc).__name__}: {exc}"
            item.unprocessable = isinstance(exc, Unprocessable)
            if span.is_recording():
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            log.warning(
                "consumer.handler_failed",
                extra={
                    "consumer": self.spec.durable,
                    "event_id": str(item.envelope.id),
                    "type": item.envelope.type,
                    "error": type(exc).__name__,
                },
            )
            return False
        finally:
            self._latency.observe(time.perf_counter() - started)
        return True

    async def _retry_or_dead_letter(self, msg: Msg, error: str) -> None:
        deliveries = msg.metadata.num_delivered
        if deliveries >= self.spec.max_deliver:
            await self._dead_letter(msg, "max_deliver", error)
        else:
            await msg.nak(delay=self.spec.delay_after(deliveries))

    async def _dead_letter(self, msg: Msg, reason: str, error: str) -> None:
        try:
            # Dead-letter first, then terminate: a crash in between redelivers it (and the
            # DLQ drops the second copy by its msg id) instead of losing it.
            await dead_letter(
                self.js,
                msg,
                stream=self.spec.stream,
                consumer=self.spec.durable,
                reason=reason,
                error=error,
            )
        except Exception as exc:
            log.warning("consumer.dead_letter_failed", extra={"error": type(exc).__name__})
            await msg.nak(delay=self.spec.delay_after(len(self.spec.backoff_s)))
            return
        await msg.term()
        DEAD_LETTERED.labels(self.spec.stream, self.spec.durable, reason).inc()
        log.error(
            "consumer.dead_lettered",
            extra={"consumer": self.spec.durable, "subject": msg.subject, "reason": reason},
        )


async def _unsubscribe(sub: JetStreamContext.PullSubscription, durable: str) -> None:
    """End the pull subscription before the connection drains.

    Left to `nc.drain()`, it would hold the drain until its timeout: nats-py counts a message
    taken off the subscription's queue by a fetch (a late "request timeout" status after an
    idle poll, or a fetch cancelled mid-wait) as unfinished, and drain waits for every one.
    Messages the server sent to it and nobody acked come back after `ack_wait`, to whichever
    replica asks next: nothing is lost.
    """
    try:
        await sub.unsubscribe()
    except Exception as exc:  # the connection is closing or gone: nothing left to end
        log.debug("consumer.unsubscribe_failed", extra={"consumer": durable, "error": repr(exc)})


def consumer_context(
    make: Callable[[web.Application], Consumer], *, grace_s: float = 10.0
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx running one consumer; on shutdown it finishes the batch in hand."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        consumer = make(app)
        await consumer.ensure()
        consumer.start()
        try:
            yield
        finally:
            await consumer.stop(grace_s=grace_s)

    return ctx
