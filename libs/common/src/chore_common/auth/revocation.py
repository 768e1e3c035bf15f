"""Revoked sessions, known on every replica within a second of `auth.session.revoked`.

Access tokens live `token_ttl_s` (15 min), so a revoked session only has to be remembered
until every token it could have been issued has expired: entries expire `token_ttl_s` plus
the verifier's leeway after the revocation. The set is fed by two readers:

- a core-NATS subscription to `auth.session.revoked`. The relay's JetStream publish is an
  ordinary publish on that subject, so every replica hears it at once, with no durable
  consumer per replica to provision or clean up;
- a catch-up read of the AUTH stream at start, back one token lifetime, for revocations
  that happened while this process was not running or not connected.

The subscription is opened before the catch-up read, so nothing falls between them; an
event seen twice is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from chore_common.contracts import Envelope
from chore_common.contracts.auth import SessionRevokedV1

log = logging.getLogger(__name__)

SUBJECT = SessionRevokedV1.TYPE
STREAM = "AUTH"
Listener = Callable[[str], None]


class RevokedSessions:
    """session id -> the wall-clock time after which its tokens are all expired anyway."""

    def __init__(self, token_ttl_s: float = 900.0, leeway_s: float = 5.0) -> None:
        self.keep_s = token_ttl_s + leeway_s
        self._until: dict[str, float] = {}
        self._listeners: list[Listener] = []
        self._next_prune = 0.0

    def __len__(self) -> int:
        return len(self._until)

    def is_revoked(self, session_id: str) -> bool:
        until = self._until.get(session_id)
        if until is None:
            return False
        if until > time.time():
            return True
        del self._until[session_id]
        return False

    def revoke(self, session_id: str, *, revoked_at: float | None = None) -> None:
        """Remember a revocation (`revoked_at` in epoch seconds) and tell the listeners."""
        now = time.time()
        until = (revoked_at if revoked_at is not None else now) + self.keep_s
        if until <= now:
            return  # every token of that session has expired already
        fresh = session_id not in self._until
        self._until[session_id] = max(until, self._until.get(session_id, 0.0))
        self._prune(now)
        if fresh:
            for listener in self._listeners:
                try:
                    listener(session_id)
                except Exception:  # one broken listener must not stop the others
                    log.exception("revocation.listener_failed")

    def on_revoke(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(session_id)` on each new revocation (e.g. to close its sockets)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def feed(self, raw: bytes) -> None:
        """Apply one `auth.session.revoked` envelope; anything else is logged and ignored."""
        try:
            envelope = Envelope.from_bytes(raw)
            if envelope.type != SUBJECT or envelope.version != SessionRevokedV1.VERSION:
                return
            event = envelope.payload(SessionRevokedV1)
        except (ValidationError, ValueError):
            log.warning("revocation.bad_event")
            return
        self.revoke(str(event.session_id), revoked_at=event.revoked_at.timestamp())

    def _prune(self, now: float) -> None:
        if now < self._next_prune:
            return
        self._next_prune = now + 30.0
        for sid in [sid for sid, until in self._until.items() if until <= now]:
            del self._until[sid]


class RevocationFeed:
    """Keeps a `RevokedSessions` current from NATS: live subscription plus start-up catch-up."""

    def __init__(
        self, nc: Any, revoked: RevokedSessions, *, stream: str = STREAM, subject: str = SUBJECT
    ) -> None:
        self.nc = nc
        self.revoked = revoked
        self.stream = stream
        self.subject = subject
        self._sub: Any = None
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async def on_message(msg: Any) -> None:
            self.revoked.feed(msg.data)

        self._sub = await self.nc.subscribe(self.subject, cb=on_message)
        await self.catch_up()
        self._watcher = asyncio.create_task(self._catch_up_after_reconnect())

    async def _catch_up_after_reconnect(self, every_s: float = 0.25) -> None:
        # Core NATS does not replay what was published while we were cut off, so every
        # reconnect is followed by another read of the stream.
        was_connected = True
        while True:
            await asyncio.sleep(every_s)
            connected = bool(self.nc.is_connected)
            if connected and not was_connected:
                try:
                    await self.catch_up()
                except Exception:
                    log.warning("revocation.catch_up_failed", exc_info=True)
                    connected = False  # try again on the next tick
            was_connected = connected

    async def catch_up(self, *, batch: int = 256, timeout_s: float = 1.0) -> int:
        """Read the stream back one token lifetime; returns how many events were read."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import NotFoundError

        js = self.nc.jetstream()
        since = datetime.now(UTC) - timedelta(seconds=self.revoked.keep_s)
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME,
            opt_start_time=since,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=30.0,
        )
        try:
            sub = await js.pull_subscribe(self.subject, stream=self.stream, config=config)
        except NotFoundError:
            log.info("revocation.no_stream", extra={"stream": self.stream})
            return 0
        read = 0
        try:
            # Ask how much is there rather than wait out a fetch timeout on an empty stream.
            pending = (await sub.consumer_info()).num_pending
            while pending > 0:
                try:
                    msgs = await sub.fetch(min(batch, pending), timeout=timeout_s)
                except TimeoutError:
                    break
                for msg in msgs:
                    self.revoked.feed(msg.data)
                    read += 1
                pending = msgs[-1].metadata.num_pending
        finally:
            await sub.unsubscribe()
        log.info("revocation.caught_up", extra={"events": read})
        return read

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        if self._sub is not None:
            sub, self._sub = self._sub, None
            try:
                await asyncio.shield(sub.unsubscribe())
            except Exception:  # connection already closed: nothing left to unsubscribe
                log.debug("revocation.unsubscribe_failed", exc_info=True)
