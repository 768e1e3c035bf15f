"""The NATS connection: reconnect forever, log every state change, report readiness.

A service must survive a NATS restart without restarting itself: the client reconnects
without limit every `reconnect_wait_s`, buffered publishes go out after reconnecting,
and the "nats" readiness check fails while the link is down so traffic moves elsewhere.

At shutdown the connection drains (the server stops sending, callbacks finish, buffered
publishes go out) for at most `DRAIN_TIMEOUT_S`, then closes whatever is left: every
subscription is ended by its owner before that, so the drain has little to wait for, and a
stop never waits out the service's whole grace period here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Final

import nats
from aiohttp import web
from nats.aio.client import Client as NATS
from nats.errors import NoServersError

from chore_common.keys import READINESS
from chore_common.settings import ServiceSettings

log = logging.getLogger(__name__)

NATS_CLIENT = web.AppKey("chore.bus.nats", NATS)
READINESS_NAME: Final = "nats"
# nats-py's own limit on the subscriptions' drain (its default is 30 s), then a second for the
# final flush it does after that, which has a limit (10 s) of its own: both well below the
# shortest sensible SHUTDOWN_GRACE_S.
DRAIN_TIMEOUT_S: Final = 2
FLUSH_AFTER_DRAIN_S: Final = 1.0


class NatsDisconnected(Exception):
    pass


async def connect(
    url: str,
    *,
    name: str,
    reconnect_wait_s: float = 0.25,
    startup_timeout_s: float = 30.0,
) -> NATS:
    """Connect, retrying the first connection for up to `startup_timeout_s`."""
    client: list[NATS] = []

    async def on_error(exc: Exception) -> None:
        log.warning("nats.error", extra={"error": f"{type(exc).__name__}: {exc}"})

    async def on_disconnected() -> None:
        if client and client[0].is_closed:
            return  # our own close (nats-py reports it as a disconnect too): "nats.closed" says it
        log.warning("nats.disconnected", extra={"client": name})

    async def on_reconnected() -> None:
        log.info("nats.reconnected", extra={"client": name})

    async def on_closed() -> None:
        log.info("nats.closed", extra={"client": name})

    loop = asyncio.get_running_loop()
    deadline = loop.time() + startup_timeout_s
    while True:
        try:
            nc = await nats.connect(
                servers=url,
                name=name,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=reconnect_wait_s,
                connect_timeout=2,
                drain_timeout=DRAIN_TIMEOUT_S,
                error_cb=on_error,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
                closed_cb=on_closed,
            )
            client.append(nc)
            return nc
        except (NoServersError, OSError, TimeoutError) as exc:
            if loop.time() >= deadline:
                raise
            log.warning("nats.connect_retry", extra={"error": type(exc).__name__})
            await asyncio.sleep(min(1.0, max(0.05, reconnect_wait_s)))


async def drain_then_close(nc: NATS, *, name: str) -> None:
    """Drain within `DRAIN_TIMEOUT_S` (+ its final flush), else close: never longer.

    nats-py bounds the subscriptions' drain but not the flush after it, and on its own timeout
    it ends in a CancelledError of its own making: run in a task of its own, it cannot be
    mistaken for our cancellation, and its time is bounded here.
    """
    drain = asyncio.ensure_future(nc.drain())
    done, _ = await asyncio.wait({drain}, timeout=DRAIN_TIMEOUT_S + FLUSH_AFTER_DRAIN_S)
    failed = drain not in done or drain.cancelled() or drain.exception() is not None
    if drain not in done:
        log.warning("nats.drain_timeout", extra={"client": name, "limit_s": DRAIN_TIMEOUT_S})
    if failed:
        # With the server already gone the close itself can raise (connection reset): the
        # service is stopping either way, so it stops cleanly.
        try:
            await nc.close()
        except Exception:
            log.warning("nats.close_failed", extra={"client": name})
    if not drain.done():
        drain.cancel()
    await asyncio.gather(drain, return_exceptions=True)


async def nats_check(nc: NATS) -> None:
    """Readiness: raises while the client is not connected."""
    if not nc.is_connected:
        raise NatsDisconnected("nats is " + ("reconnecting" if nc.is_reconnecting else "down"))


def nats_context(
    settings: ServiceSettings, *, provision_streams: bool = True
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx: the client in `app[NATS_CLIENT]`, readiness "nats", streams provisioned."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        nc = await connect(settings.nats_url, name=settings.service_name)
        app[NATS_CLIENT] = nc
        if provision_streams:
            from chore_common.bus.streams import ensure_streams

            await ensure_streams(
                nc.jetstream(),
                replicas=settings.stream_replicas,
                max_age_s=settings.stream_max_age_s,
                max_bytes=settings.stream_max_bytes,
                owner=settings.service_name.upper(),
            )
        readiness = app.get(READINESS)

        async def check() -> None:
            await nats_check(nc)

        if readiness is not None:
            readiness.add(READINESS_NAME, check)
        try:
            yield
        finally:
            if readiness is not None:
                readiness.remove(READINESS_NAME)
            await drain_then_close(nc, name=settings.service_name)

    return ctx
