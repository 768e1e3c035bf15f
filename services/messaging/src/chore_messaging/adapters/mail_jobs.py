"""The mail notifier's background work in each replica: deliver queued mail, record who was
around, and queue the daily digest. Each loop outlives a failed round (database or SMTP
down): it logs, waits its period, and tries again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from prometheus_client import Counter

from chore_common.clock import utcnow
from chore_messaging.adapters.presence import PresenceSockets
from chore_messaging.domain.mail import Mail, RetryPolicy
from chore_messaging.usecases import mail
from chore_messaging.usecases.mail_ports import DeliveryFailed, Renderer, Sender

log = logging.getLogger(__name__)

DELIVERIES = Counter(
    "mail_delivery_attempts_total",
    "Mails handed to the SMTP server, by kind and outcome (sent, retry, refused)",
    ["kind", "outcome"],
)


class CountingSender:
    """A sender that counts what became of each attempt."""

    def __init__(self, inner: Sender) -> None:
        self.inner = inner

    async def send(self, mail: Mail) -> None:
        try:
            await self.inner.send(mail)
        except DeliveryFailed as exc:
            DELIVERIES.labels(mail.kind.value, "refused" if exc.permanent else "retry").inc()
            log.warning(
                "mail.delivery_failed",
                extra={"mail_id": str(mail.id), "kind": mail.kind.value, "error": str(exc)},
            )
            raise
        DELIVERIES.labels(mail.kind.value, "sent").inc()


async def _every(
    stop: asyncio.Event, period_s: float, name: str, round_: Callable[[], Awaitable[object]]
) -> None:
    while not stop.is_set():
        try:
            await round_()
        except Exception:
            log.exception("mail.round_failed", extra={"job": name})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period_s)


def mail_jobs_context(
    uow: mail.UowFactory,
    sender: Sender,
    render: Renderer,
    sockets: PresenceSockets,
    *,
    policy: RetryPolicy,
    poll_s: float,
    batch: int,
    lease_s: float,
    digest_every_s: float,
    offline_after: timedelta,
    presence_flush_s: float,
    grace_s: float,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def deliver() -> None:
        await mail.deliver_due(uow, sender, policy, utcnow, batch=batch, lease_s=lease_s)

    async def presence() -> None:
        await mail.note_presence(uow, sockets.take_seen(), utcnow())

    async def digest() -> None:
        await mail.queue_digests(uow, render, utcnow(), offline_after)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(_every(stop, poll_s, "deliver", deliver), name="mail-deliver"),
            asyncio.create_task(_every(stop, presence_flush_s, "presence", presence)),
            asyncio.create_task(_every(stop, digest_every_s, "digest", digest)),
        ]
        try:
            yield
        finally:
            # A round in hand finishes (a mail the server took gets marked sent), bounded.
            stop.set()
            _, late = await asyncio.wait(tasks, timeout=grace_s)
            for task in late:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(Exception):  # last flush: who was here until now
                await presence()

    return ctx
