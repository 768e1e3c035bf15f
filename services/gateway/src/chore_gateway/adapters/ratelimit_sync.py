"""The per-IP limit shared between gateway processes over core NATS (docs/adr/0007).

Every process admits from its own buckets (domain/ratelimit.py `SharedRateLimiter`) and,
every `interval_s` (or at once when a client spent its share of the burst), publishes what
it admitted since the last batch on `SUBJECT`; every other process debits those counts from
its own buckets. No request waits for NATS. An empty batch is a heartbeat: it is how the
processes count each other (the share of a burst is burst / processes).

NATS unreachable or lost: each process limits on its own (as with no NATS at all), logged
once per outage, `gateway_ratelimit_shared` 0; connecting goes on in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Final

import nats
from aiohttp import web
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from chore_gateway.adapters import metrics
from chore_gateway.domain.ratelimit import SharedRateLimiter

log = logging.getLogger(__name__)

SUBJECT: Final = "chore.gateway.ratelimit"
BATCH_ENTRIES: Final = 5_000  # clients per message: ~150 KB, well under NATS' 1 MB
RETRY_S: Final = (0.5, 1.0, 2.0, 5.0)  # between first-connection attempts


class RateLimitSync:
    def __init__(self, limiter: SharedRateLimiter, url: str, *, interval_s: float) -> None:
        self.limiter = limiter
        self.url = url
        self.interval_s = interval_s
        self.id = secrets.token_hex(8)  # this process, so that its own batches are skipped
        self.nc: NATS | None = None
        self._wakeup = asyncio.Event()
        self._shared: bool | None = None  # last state logged (None: not yet)
        limiter.wake = self._wakeup.set

    async def run(self) -> None:
        """Connect (retrying for ever), then send a batch every interval until cancelled."""
        metrics.RATELIMIT_SHARED.set(0)
        nc = await self._connect()
        await nc.subscribe(SUBJECT, cb=self._on_batch)
        self._set_shared(nc.is_connected, "connected")
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.interval_s)
            self._wakeup.clear()
            self.limiter.expire(loop.time())
            metrics.RATELIMIT_PROCESSES.set(self.limiter.processes)
            await self._send(nc, self.limiter.drain())

    async def close(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()

    async def _connect(self) -> NATS:
        # nats-py retries a first connection itself (max_reconnect_attempts=-1), reporting
        # each failure to error_cb; the loop here is for the errors it raises instead.
        attempt = 0
        while True:
            try:
                self.nc = await nats.connect(
                    servers=[self.url],
                    name="gateway-ratelimit",
                    no_echo=True,  # our own batches are already counted here
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
                return self.nc
            except (nats.errors.NoServersError, OSError, TimeoutError) as exc:
                self._set_shared(False, f"unreachable: {type(exc).__name__}")
                await asyncio.sleep(RETRY_S[min(attempt, len(RETRY_S) - 1)])
                attempt += 1

    async def _send(self, nc: NATS, batch: dict[str, int]) -> None:
        if not nc.is_connected:
            return  # spent here already; nothing to tell while cut off
        items = list(batch.items())
        chunks = [items[i : i + BATCH_ENTRIES] for i in range(0, len(items), BATCH_ENTRIES)]
        for chunk in chunks or [[]]:  # an empty batch still says "I am here"
            payload = json.dumps({"id": self.id, "n": dict(chunk)}, separators=(",", ":"))
            try:
                await nc.publish(SUBJECT, payload.encode())
            except Exception as exc:  # the link went between the check and the publish
                self._set_shared(False, type(exc).__name__)
                return

    async def _on_batch(self, msg: Msg) -> None:
        try:
            data = json.loads(msg.data)
            peer, counts = data["id"], data["n"]
            if not isinstance(peer, str) or not isinstance(counts, dict):
                raise ValueError("not a batch")
        except (ValueError, KeyError, TypeError):
            log.debug("gateway.ratelimit_bad_batch", extra={"size": len(msg.data)})
            return
        if peer == self.id:
            return
        now = asyncio.get_running_loop().time()
        self.limiter.apply(peer, {k: v for k, v in counts.items() if isinstance(v, int)}, now)

    def _set_shared(self, shared: bool, reason: str) -> None:
        metrics.RATELIMIT_SHARED.set(1 if shared else 0)
        if shared == self._shared:
            return  # logged once per change, not per attempt
        self._shared = shared
        if shared:
            log.info("gateway.ratelimit_shared", extra={"nats": self.url})
        else:
            log.warning(
                "gateway.ratelimit_local",
                extra={"nats": self.url, "reason": reason, "limit": "per process"},
            )

    async def _on_error(self, exc: Exception) -> None:
        log.debug("gateway.ratelimit_nats_error", extra={"error": type(exc).__name__})
        if self.nc is None or not self.nc.is_connected:
            self._set_shared(False, f"unreachable: {type(exc).__name__}")

    async def _on_disconnected(self) -> None:
        if self.nc is not None and self.nc.is_closed:
            return  # our own close at shutdown
        self._set_shared(False, "disconnected")

    async def _on_reconnected(self) -> None:
        self._set_shared(True, "reconnected")


def sync_context(
    sync: RateLimitSync,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Runs beside the app: started without waiting for NATS (the gateway serves at once,
    limiting per process until the link is up), stopped with it."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(sync.run(), name="gateway-ratelimit-sync")
        yield
        await sync.close(task)

    return run
