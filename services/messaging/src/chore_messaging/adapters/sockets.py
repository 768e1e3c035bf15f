"""This replica's WebSockets: each one's bounded outgoing queue, and the per-user cap.

A `Connection` is one WebSocket. While its reader keeps up (nothing queued, the kernel
taking what is written) a frame is written straight to the transport: the same frame bytes
for every socket, no task wake-up per socket. Otherwise it goes through a bounded queue
drained by one writer task; a queue that fills (a reader too slow) closes the socket with
1013, so nothing is ever buffered without bound (at most `DIRECT_WRITE_LIMIT` bytes in the
transport plus the queue). The queue and its writer task exist only while frames wait: an
idle socket costs its aiohttp objects and a few slots here, no task and no buffer.

`SocketRegistry` (the `Sockets` port) knows every open socket by user and by session: one
over the user's cap is closed 4429, one over the replica's cap 1013 with a retry hint, a
revoked session's close 4401, all close on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections import deque
from collections.abc import Iterable
from typing import Final
from uuid import UUID

from aiohttp import WSMsgType, web

from chore_messaging.adapters.metrics import CLOSES, FRAMES_IN, FRAMES_OUT, OPEN_SOCKETS, SLOW_DROPS
from chore_messaging.domain.limits import CLOSE_AUTH, CLOSE_FULL, CLOSE_SLOW, CLOSE_TOO_MANY
from chore_messaging.usecases.ports import Socket

# Below this many bytes waiting in a socket's transport, frames skip the queue (see above).
DIRECT_WRITE_LIMIT: Final = 64 * 1024


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


class Connection:
    """One WebSocket: a bounded outgoing queue and a writer task, both made only while a
    write would block (an idle socket holds neither), and one way to close."""

    __slots__ = (
        "__weakref__",
        "_close_timeout_s",
        "_closer",
        "_room",
        "_size",
        "_transport",
        "_writer",
        "close_code",
        "closing",
        "queue",
        "session_id",
        "user_id",
        "ws",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        user_id: UUID,
        session_id: UUID,
        queue_size: int,
        close_timeout_s: float = 2.0,
        transport: object = None,
    ) -> None:
        self.ws = ws
        # aiohttp writes an uncompressed frame in one synchronous call, so our direct writes
        # never land inside one of its frames (pongs, the close frame).
        self._transport = transport if isinstance(transport, asyncio.WriteTransport) else None
        self.user_id = user_id
        self.session_id = session_id
        self.queue: deque[bytes] | None = None  # made by the first frame that must wait
        self.closing = False
        self.close_code: int | None = None
        self._close_timeout_s = close_timeout_s
        self._size = queue_size
        self._room: asyncio.Event | None = None  # a replay waiting for the queue to drain
        self._writer: asyncio.Task[None] | None = None  # alive only while frames wait
        self._closer: asyncio.Task[None] | None = None

    @property
    def writing(self) -> bool:
        """Whether a writer task exists (frames wait for a slow reader)."""
        return self._writer is not None

    def queued(self) -> int:
        return len(self.queue) if self.queue is not None else 0

    def push(self, data: bytes) -> bool:
        """Queue an encoded text frame for this socket; a full queue closes it 1013."""
        if self.closing:
            return False
        transport = self._transport
        if (
            transport is not None
            and self._writer is None  # nothing queued may be overtaken
            and not transport.is_closing()
            and not self.ws.closed
            and transport.get_write_buffer_size() < DIRECT_WRITE_LIMIT
        ):
            transport.write(_LastFrame.of(data))
            FRAMES_OUT.inc()
            return True
        queue = self.queue
        if queue is None:
            queue = self.queue = deque()
        if len(queue) >= self._size:
            SLOW_DROPS.inc()
            self.close_soon(CLOSE_SLOW, "too slow: outgoing queue full")
            return False
        queue.append(data)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(), name="ws-writer")
        return True

    async def put(self, data: bytes, *, stall_s: float) -> None:
        """Queue `data` once the queue is at most half full (a replay keeps pace with the
        reader and leaves the other half to live frames, acks and notifications); a reader
        that takes nothing for `stall_s` is closed 1013."""
        if self.closing:
            return
        if self.queued() >= max(1, self._size // 2):
            room = self._room = self._room or asyncio.Event()
            room.clear()
            try:
                await asyncio.wait_for(room.wait(), stall_s)
            except TimeoutError:
                SLOW_DROPS.inc()
                self.close_soon(CLOSE_SLOW, "too slow: replay stalled")
                return
        self.push(data)

    def received(self, kind: str) -> None:
        FRAMES_IN.labels(kind).inc()

    async def _write(self) -> None:
        """Drain the queue in order, then end: the next blocked write starts a new one."""
        ws, queue, half = self.ws, self.queue, max(1, self._size // 2)
        assert queue is not None
        try:
            while queue:
                # Already UTF-8: no per-socket encoding of a frame shared by many sockets.
                await ws.send_frame(queue.popleft(), WSMsgType.TEXT)
                FRAMES_OUT.inc()
                room = self._room
                if room is not None and len(queue) < half and not room.is_set():
                    room.set()
        except (ConnectionError, RuntimeError):  # peer gone: the reader loop notices too
            pass
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None
            if not queue:
                self.queue = None  # an idle socket keeps no buffer
            if self._room is not None:
                self._room.set()

    def close_soon(self, code: int, reason: str) -> None:
        """Start closing with `code` (idempotent). The reader loop then ends by itself."""
        if self.closing:
            return
        self.closing = True
        self.close_code = code
        CLOSES.labels(str(code)).inc()
        self._closer = asyncio.create_task(self._close(code, reason), name="ws-close")

    async def _stop_writer(self) -> None:
        writer = self._writer
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer

    async def _close(self, code: int, reason: str) -> None:
        # The writer may be stuck in a drain on a reader that stopped reading: stop it, then
        # put the close frame behind what is already in the transport, without waiting on it.
        await self._stop_writer()
        with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
            await asyncio.wait_for(
                self.ws.close(code=code, message=reason.encode()[:120], drain=False),
                self._close_timeout_s,
            )

    async def finish(self) -> None:
        """After the reader loop ended: stop the writer, wait for a close in progress."""
        self.closing = True
        await self._stop_writer()
        if self._closer is not None:
            with contextlib.suppress(BaseException):
                await self._closer


class SocketRegistry:
    """This replica's sockets, by user and by session (the `Sockets` port)."""

    def __init__(
        self,
        *,
        max_per_user: int,
        queue_size: int,
        close_timeout_s: float = 2.0,
        max_sockets: int = 1_000_000,
        retry_after_s: int = 5,
    ) -> None:
        self.max_per_user = max_per_user
        self.max_sockets = max_sockets
        self.retry_after_s = retry_after_s
        self.queue_size = queue_size
        self.close_timeout_s = close_timeout_s
        self.connections: set[Socket] = set()
        self.by_user: dict[UUID, set[Socket]] = {}
        self.by_session: dict[UUID, set[Socket]] = {}

    def open_for(self, user_id: UUID) -> int:
        """The sockets this user holds open on this process."""
        return len(self.by_user.get(user_id, ()))

    def of_user(self, user_id: UUID) -> Iterable[Socket]:
        return list(self.by_user.get(user_id, ()))

    async def connect(
        self,
        ws: web.WebSocketResponse,
        *,
        user_id: UUID,
        session_id: UUID,
        transport: object = None,
    ) -> Connection | None:
        if len(self.connections) >= self.max_sockets:
            # This replica is full: 1013 "try again later", with the hint a client backs off
            # by (plus its own jitter: docs/messaging.md "Reconnecting").
            CLOSES.labels(str(CLOSE_FULL)).inc()
            await ws.close(code=CLOSE_FULL, message=full_reason(self.retry_after_s), drain=False)
            return None
        if self.open_for(user_id) >= self.max_per_user:
            # After the upgrade, not before: a browser sees a close code and reason, never
            # the status of a refused handshake. Nothing awaits between this count and `add`.
            CLOSES.labels(str(CLOSE_TOO_MANY)).inc()
            await ws.close(
                code=CLOSE_TOO_MANY,
                message=f"too many connections: at most {self.max_per_user} per user".encode(),
                drain=False,
            )
            return None
        conn = Connection(
            ws,
            user_id=user_id,
            session_id=session_id,
            queue_size=self.queue_size,
            close_timeout_s=self.close_timeout_s,
            transport=transport,
        )
        self.add(conn)
        return conn

    def add(self, conn: Socket) -> None:
        self.connections.add(conn)
        self.by_user.setdefault(conn.user_id, set()).add(conn)
        self.by_session.setdefault(conn.session_id, set()).add(conn)
        OPEN_SOCKETS.inc()

    async def disconnect(self, socket: Socket) -> None:
        if socket in self.connections:
            self.connections.discard(socket)
            _discard(self.by_user, socket.user_id, socket)
            _discard(self.by_session, socket.session_id, socket)
            OPEN_SOCKETS.dec()
        await socket.finish()

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


def full_reason(retry_after_s: int) -> bytes:
    """The close reason of a replica at its cap: `retry-after=<s>` is what clients parse."""
    return f"replica full: retry-after={retry_after_s}".encode()


def _discard(index: dict[UUID, set[Socket]], key: UUID, conn: Socket) -> None:
    found = index.get(key)
    if found is not None:
        found.discard(conn)
        if not found:
            del index[key]
