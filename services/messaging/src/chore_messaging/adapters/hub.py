"""Sockets of this replica, and the fan-out that reaches the sockets of every replica.

- A `Connection` is one WebSocket. While its reader keeps up (nothing queued, the kernel
  taking what is written) a frame is written straight to the transport: the same frame
  bytes for every socket, no task wake-up per socket. Otherwise it goes through a bounded
  queue drained by one writer task; a queue that fills (a reader too slow) closes the socket
  with 1013, so nothing is ever buffered without bound (at most `DIRECT_WRITE_LIMIT` bytes in
  the transport plus the queue).
- A `Channel` is one conversation with local subscribers. It subscribes to the
  conversation's core-NATS subject (`fanout.messaging.conv.<id>`), and releases messages
  to its subscribers strictly by `seq` (`InOrder`): two replicas' publishes may arrive
  swapped, and one lost on NATS is read back from the database after `gap_s`.
- After a message commits, the storing replica hands the encoded frame to its own channel
  and publishes the same bytes on NATS; every other replica's channel does the same with
  what it receives. One encoding per message, the same `str` queued to every socket.
- Subscribing with `since_seq` attaches first (live frames are held), replays from the
  database, then releases the held frames above the last replayed seq: no gap, no double.
- Notifications go to `fanout.messaging.users`; each replica pushes them to that user's
  local sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final
from uuid import UUID

from aiohttp import WSMsgType, web
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription

from chore_common.bus.fanout import fanout_subject
from chore_messaging import frames
from chore_messaging.adapters.metrics import (
    CLOSES,
    FANOUT_SECONDS,
    FRAMES_OUT,
    GAP_REPAIRS,
    OPEN_SOCKETS,
    SLOW_DROPS,
)
from chore_messaging.domain.limits import InOrder
from chore_messaging.domain.model import Conversation, Message, Notification

log = logging.getLogger(__name__)

CONVERSATION_TOPIC: Final = "messaging.conv"
USERS_TOPIC: Final = "messaging.users"

# Close codes (docs/messaging.md has the table).
CLOSE_RATE: Final = 1008
CLOSE_TOO_BIG: Final = 1009
CLOSE_RESTART: Final = 1012
CLOSE_SLOW: Final = 1013
CLOSE_AUTH: Final = 4401
CLOSE_TOO_MANY: Final = 4429  # as HTTP 429: the user's cap of open sockets is reached

# Below this many bytes waiting in a socket's transport, frames skip the queue (see above).
DIRECT_WRITE_LIMIT: Final = 64 * 1024

LastSeq = Callable[[UUID], Awaitable[int]]


def text_frame(payload: bytes) -> bytes:
    """A complete WebSocket text frame (RFC 6455 5.2). Server frames are unmasked and ours
    uncompressed, so the bytes are the same for every socket."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    return header + payload


class _LastFrame:
    """The frame of the payload last written: a fan-out builds it once for all its sockets.
    Keyed by identity, with the payload held, so a recycled id can never match."""

    payload: bytes | None = None
    frame: bytes = b""

    @classmethod
    def of(cls, payload: bytes) -> bytes:
        if payload is not cls.payload:
            cls.payload, cls.frame = payload, text_frame(payload)
        return cls.frame


Between = Callable[[UUID, int, int], Awaitable[list[Message]]]


def conversation_subject(conversation_id: UUID) -> str:
    return fanout_subject(f"{CONVERSATION_TOPIC}.{conversation_id}")


class Connection:
    """One WebSocket: a bounded outgoing queue, one writer task, one way to close."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        user_id: UUID,
        session_id: UUID,
        queue_size: int,
        close_timeout_s: float = 2.0,
        transport: asyncio.BaseTransport | None = None,
    ) -> None:
        self.ws = ws
        # aiohttp writes an uncompressed frame in one synchronous call, so our direct writes
        # never land inside one of its frames (pongs, the close frame).
        self._transport = transport if isinstance(transport, asyncio.WriteTransport) else None
        self.user_id = user_id
        self.session_id = session_id
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(queue_size)
        self.subs: dict[UUID, Subscription] = {}
        self.closing = False
        self.close_code: int | None = None
        self._close_timeout_s = close_timeout_s
        self._half = max(1, queue_size // 2)
        self._room = asyncio.Event()
        self._writer = asyncio.create_task(self._write(), name="ws-writer")
        self._closer: asyncio.Task[None] | None = None

    def push(self, data: bytes) -> bool:
        """Queue an encoded text frame for this socket; a full queue closes it 1013."""
        if self.closing:
            return False
        transport = self._transport
        if (
            transport is not None
            and self.queue.empty()  # nothing queued may be overtaken
            and not transport.is_closing()
            and not self.ws.closed
            and transport.get_write_buffer_size() < DIRECT_WRITE_LIMIT
        ):
            transport.write(_LastFrame.of(data))
            FRAMES_OUT.inc()
            return True
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            SLOW_DROPS.inc()
            self.close_soon(CLOSE_SLOW, "too slow: outgoing queue full")
            return False
        return True

    async def put(self, data: bytes, *, stall_s: float) -> None:
        """Queue `data` once the queue is at most half full (a replay keeps pace with the
        reader and leaves the other half to live frames, acks and notifications); a reader
        that takes nothing for `stall_s` is closed 1013."""
        if self.closing:
            return
        if self.queue.qsize() >= self._half:
            self._room.clear()
            try:
                await asyncio.wait_for(self._room.wait(), stall_s)
            except TimeoutError:
                SLOW_DROPS.inc()
                self.close_soon(CLOSE_SLOW, "too slow: replay stalled")
                return
        self.push(data)

    async def _write(self) -> None:
        ws, queue = self.ws, self.queue
        try:
            while True:
                data = await queue.get()
                # Already UTF-8: no per-socket encoding of a frame shared by many sockets.
                await ws.send_frame(data, WSMsgType.TEXT)
                FRAMES_OUT.inc()
                if queue.qsize() < self._half and not self._room.is_set():
                    self._room.set()
        except (ConnectionError, RuntimeError):  # peer gone: the reader loop notices too
            pass

    def close_soon(self, code: int, reason: str) -> None:
        """Start closing with `code` (idempotent). The reader loop then ends by itself."""
        if self.closing:
            return
        self.closing = True
        self.close_code = code
        CLOSES.labels(str(code)).inc()
        self._closer = asyncio.create_task(self._close(code, reason), name="ws-close")

    async def _close(self, code: int, reason: str) -> None:
        # The writer may be stuck in a drain on a reader that stopped reading: stop it, then
        # put the close frame behind what is already in the transport, without waiting on it.
        self._writer.cancel()
        with contextlib.suppress(BaseException):
            await self._writer
        with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
            await asyncio.wait_for(
                self.ws.close(code=code, message=reason.encode()[:120], drain=False),
                self._close_timeout_s,
            )

    async def finish(self) -> None:
        """After the reader loop ended: stop the writer, wait for a close in progress."""
        self.closing = True
        self._writer.cancel()
        with contextlib.suppress(BaseException):
            await self._writer
        if self._closer is not None:
            with contextlib.suppress(BaseException):
                await self._closer


@dataclass(eq=False)
class Subscription:
    """One socket's interest in one conversation. Until `go_live`, releases are held."""

    conn: Connection
    channel: Channel
    last_seq: int = 0
    held: list[tuple[int, bytes]] | None = field(default_factory=list)
    max_held: int = 1024

    def deliver(self, seq: int, data: bytes) -> None:
        if self.held is not None:
            self.held.append((seq, data))
            if len(self.held) > self.max_held:  # live traffic outran a long replay
                SLOW_DROPS.inc()
                self.conn.close_soon(CLOSE_SLOW, "too slow: replay fell behind")
            return
        if seq > self.last_seq:
            self.last_seq = seq
            self.conn.push(data)

    def go_live(self, last_seq: int) -> None:
        self.last_seq = last_seq
        held, self.held = self.held or [], None
        for seq, data in held:
            self.deliver(seq, data)


class Channel:
    """One conversation on this replica: its NATS subscription and its ordered release."""

    def __init__(self, hub: Hub, conversation_id: UUID) -> None:
        self.hub = hub
        self.conversation_id = conversation_id
        self.subs: set[Subscription] = set()
        self.order: InOrder[bytes] = InOrder()
        self._early: list[tuple[int, bytes, float]] | None = []
        self._nats: NatsSubscription | None = None
        self._repair: asyncio.Task[None] | None = None
        self.ready: asyncio.Task[None] = asyncio.create_task(self._start(), name="channel-start")

    async def _start(self) -> None:
        self._nats = await self.hub.nc.subscribe(
            conversation_subject(self.conversation_id), cb=self._on_nats
        )
        await (
            self.hub.nc.flush()
        )  # the server has our interest: nothing published from now on is missed
        # Everything up to here was committed before this read: subscribers get it by replay.
        self.order.delivered = await self.hub.last_seq(self.conversation_id)
        early, self._early = self._early or [], None
        for seq, data, sent in early:
            self.offer(seq, data, sent)

    async def _on_nats(self, msg: Msg) -> None:
        try:
            head, _, body = msg.data.partition(b"\n")
            seq_raw, _, sent_raw = head.partition(b" ")
            seq, sent = int(seq_raw), float(sent_raw)
        except ValueError:
            log.warning("fanout.bad_frame", extra={"subject": msg.subject})
            return
        self.offer(seq, body, sent)

    def offer(self, seq: int, data: bytes, sent: float) -> None:
        if self._early is not None:
            self._early.append((seq, data, sent))
            return
        released = self.order.accept(seq, data)
        if released:
            FANOUT_SECONDS.observe(max(0.0, time.time() - sent))
            for s, t in released:
                for sub in list(self.subs):
                    sub.deliver(s, t)
        if self.order.held and (self._repair is None or self._repair.done()):
            self._repair = asyncio.create_task(self._fill_gap(), name="channel-repair")

    async def _fill_gap(self) -> None:
        """A seq is missing while later ones wait: give NATS `gap_s`, then read the database.

        A later seq being published means the earlier one committed (the conversation's
        lock is held from numbering to commit), so the read finds it.
        """
        await asyncio.sleep(self.hub.gap_s)
        while (gap := self.order.gap) is not None:
            after, before = gap
            try:
                missing = await self.hub.between(self.conversation_id, after, before)
            except Exception:
                log.warning("fanout.repair_failed", exc_info=True)
                await asyncio.sleep(self.hub.gap_s)
                continue
            if not missing:
                log.error("fanout.gap_unfilled", extra={"after": after, "before": before})
                return
            GAP_REPAIRS.inc(len(missing))
            now = time.time()
            for message in missing:
                self.offer(message.seq, frames.message_frame(message), now)

    def catch_up_soon(self) -> None:
        """Read messages after the last released one (e.g. after a NATS reconnect)."""
        if self._early is None and (self._repair is None or self._repair.done()):
            self._repair = asyncio.create_task(self._catch_up(), name="channel-catch-up")

    async def _catch_up(self) -> None:
        try:
            while True:
                after = self.order.delivered
                missing = await self.hub.between(self.conversation_id, after, after + 501)
                if not missing:
                    return
                GAP_REPAIRS.inc(len(missing))
                now = time.time()
                for message in missing:
                    self.offer(message.seq, frames.message_frame(message), now)
        except Exception:
            log.warning("fanout.catch_up_failed", exc_info=True)

    async def close(self) -> None:
        self.ready.cancel()
        with contextlib.suppress(BaseException):
            await self.ready
        if self._repair is not None:
            self._repair.cancel()
        if self._nats is not None:
            with contextlib.suppress(Exception):
                await self._nats.unsubscribe()


class Hub:
    """This replica's sockets and channels; `message_stored`/`notify` are the `Fanout` port."""

    def __init__(
        self,
        nc: NATS,
        *,
        last_seq: LastSeq,
        between: Between,
        gap_s: float = 0.25,
        replay_hold: int = 1024,
    ) -> None:
        self.nc = nc
        self.last_seq = last_seq
        self.between = between
        self.gap_s = gap_s
        self.replay_hold = replay_hold
        self.connections: set[Connection] = set()
        self.by_user: dict[UUID, set[Connection]] = {}
        self.by_session: dict[UUID, set[Connection]] = {}
        self.channels: dict[UUID, Channel] = {}
        self._users_sub: NatsSubscription | None = None
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._users_sub = await self.nc.subscribe(
            fanout_subject(USERS_TOPIC), cb=self._on_notification
        )
        self._watcher = asyncio.create_task(self._watch_reconnects(), name="hub-reconnects")

    async def _watch_reconnects(self, every_s: float = 0.5) -> None:
        # Core NATS drops what was published while this replica was cut off. After each
        # reconnect every channel reads what it missed from the database.
        reconnects = int(self.nc.stats["reconnects"])
        while True:
            await asyncio.sleep(every_s)
            now = int(self.nc.stats["reconnects"])
            if now != reconnects and self.nc.is_connected:
                reconnects = now
                for channel in list(self.channels.values()):
                    channel.catch_up_soon()

    async def stop(self, *, code: int = CLOSE_RESTART, grace_s: float = 3.0) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self.close_all(code, "service restarting", grace_s=grace_s)
        for channel in list(self.channels.values()):
            await channel.close()
        self.channels.clear()
        if self._users_sub is not None:
            with contextlib.suppress(Exception):
                await self._users_sub.unsubscribe()

    # -- connections -------------------------------------------------------------------

    def open_for(self, user_id: UUID) -> int:
        """The sockets this user holds open on this process."""
        return len(self.by_user.get(user_id, ()))

    def add(self, conn: Connection) -> None:
        self.connections.add(conn)
        self.by_user.setdefault(conn.user_id, set()).add(conn)
        self.by_session.setdefault(conn.session_id, set()).add(conn)
        OPEN_SOCKETS.inc()

    async def remove(self, conn: Connection) -> None:
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        _discard(self.by_user, conn.user_id, conn)
        _discard(self.by_session, conn.session_id, conn)
        OPEN_SOCKETS.dec()
        for conversation_id in list(conn.subs):
            await self.unsubscribe(conn, conversation_id)

    def revoke_session(self, session_id: str) -> None:
        """A revoked session's sockets close at once (4401), on this replica."""
        try:
            sid = UUID(session_id)
        except ValueError:
            return
        for conn in list(self.by_session.get(sid, ())):
            conn.close_soon(CLOSE_AUTH, "session revoked")

    async def close_all(self, code: int, reason: str, *, grace_s: float = 3.0) -> None:
        conns = list(self.connections)
        for conn in conns:
            conn.close_soon(code, reason)
        if conns:
            await asyncio.wait([asyncio.ensure_future(c.finish()) for c in conns], timeout=grace_s)

    # -- subscriptions -----------------------------------------------------------------

    def attach(self, conn: Connection, conversation_id: UUID) -> Subscription:
        """Start holding this conversation's live frames for `conn` (see `go_live`)."""
        channel = self.channels.get(conversation_id)
        if channel is None:
            channel = self.channels[conversation_id] = Channel(self, conversation_id)
        sub = Subscription(conn, channel, max_held=self.replay_hold)
        channel.subs.add(sub)
        conn.subs[conversation_id] = sub
        return sub

    async def unsubscribe(self, conn: Connection, conversation_id: UUID) -> None:
        sub = conn.subs.pop(conversation_id, None)
        if sub is None:
            return
        channel = sub.channel
        channel.subs.discard(sub)
        if not channel.subs and self.channels.get(conversation_id) is channel:
            del self.channels[conversation_id]
            await channel.close()

    # -- the Fanout port ---------------------------------------------------------------

    async def message_stored(self, conversation: Conversation, message: Message) -> None:
        data = frames.message_frame(message)
        sent = time.time()
        channel = self.channels.get(conversation.id)
        if channel is not None:
            channel.offer(message.seq, data, sent)  # this replica's sockets, without a hop
        payload = f"{message.seq} {sent:.6f}\n".encode() + data
        await self.nc.publish(conversation_subject(conversation.id), payload)

    async def notify(self, notifications: list[Notification]) -> None:
        for note in notifications:
            payload = f"{note.user_id}\n".encode() + frames.notification_frame(note)
            await self.nc.publish(fanout_subject(USERS_TOPIC), payload)

    async def _on_notification(self, msg: Msg) -> None:
        head, _, body = msg.data.partition(b"\n")
        try:
            user_id = UUID(head.decode())
        except ValueError:
            log.warning("fanout.bad_notification")
            return
        conns = self.by_user.get(user_id)
        if conns:
            for conn in list(conns):
                conn.push(body)


def _discard(index: dict[UUID, set[Connection]], key: UUID, conn: Connection) -> None:
    found = index.get(key)
    if found is not None:
        found.discard(conn)
        if not found:
            del index[key]


HUB = web.AppKey("messaging.hub", Hub)
