"""Many WebSocket clients in one epoll loop, cheap enough not to be what a figure measures.

An aiohttp (or `websockets` asyncio) client spends tens of microseconds of Python per
received frame; a fan-out to 1,000 sockets would then time the receivers, not the server.
Here the handshake and every frame the client *sends* go through the `websockets` sans-I/O
`ClientProtocol` (key, accept check, subprotocol, masking), while frames *received* after
the handshake are cut by a few lines below: a server's frames are unmasked and aiohttp
never fragments them, so a header read is all it takes. Pings are answered (pong through
the protocol), a close frame is recorded. The loop costs a few microseconds per frame; the
caller measures it (`process_time`) and says so next to its figures.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from websockets.client import ClientProtocol
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

OP_TEXT, OP_CLOSE, OP_PING = 0x1, 0x8, 0x9
_RECV = 262_144


class WsError(Exception):
    pass


@dataclass(eq=False)
class WsSocket:
    sock: socket.socket
    protocol: ClientProtocol
    buf: bytearray = field(default_factory=bytearray)
    close_code: int | None = None
    texts: int = 0  # text frames received

    @property
    def fd(self) -> int:
        return self.sock.fileno()

    def send_text(self, text: str) -> None:
        self.protocol.send_text(text.encode())
        self._flush()

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:  # b"" means "half-close" to sans-I/O callers; not used here
                self.sock.sendall(chunk)

    def frames(self, data: bytes) -> list[bytes]:
        """Text payloads completed by `data`; answers pings, records a close."""
        if not self.buf and len(data) >= 4 and data[0] == 0x81 and data[1] <= 126:
            # The common case: exactly one whole text frame (FIN, unmasked, < 64 KiB).
            head, size = (2, data[1]) if data[1] < 126 else (4, (data[2] << 8) | data[3])
            if len(data) == head + size:
                self.texts += 1
                return [data[head:]]
        buf = self.buf
        buf += data
        texts: list[bytes] = []
        i, n = 0, len(buf)
        while n - i >= 2:
            b0, length = buf[i], buf[i + 1] & 0x7F
            head = 2
            if length == 126:
                if n - i < 4:
                    break
                length, head = int.from_bytes(buf[i + 2 : i + 4], "big"), 4
            elif length == 127:
                if n - i < 10:
                    break
                length, head = int.from_bytes(buf[i + 2 : i + 10], "big"), 10
            end = i + head + length
            if end > n:
                break
            opcode = b0 & 0x0F
            if opcode == OP_TEXT:
                texts.append(bytes(buf[i + head : end]))
            elif opcode == OP_PING:
                self.protocol.send_pong(bytes(buf[i + head : end]))
                self._flush()
            elif opcode == OP_CLOSE:
                payload = buf[i + head : end]
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            i = end
        del buf[:i]
        self.texts += len(texts)
        return texts


class WsPool:
    """Sockets to one or more servers, read by one epoll loop."""

    def __init__(self) -> None:
        self.epoll = select.epoll()
        self.by_fd: dict[int, WsSocket] = {}
        self.other: list[bytes] = []  # the last few frames that matched nothing (diagnostics)

    def open(
        self,
        host: str,
        port: int,
        path: str,
        subprotocols: Iterable[list[str]],
        *,
        batch: int = 100,
        timeout_s: float = 30.0,
    ) -> list[WsSocket]:
        """One socket per subprotocol list, handshakes `batch` at a time (the listen backlog
        is not the thing measured); raises unless every server answered 101."""
        wanted = list(subprotocols)
        opened: list[WsSocket] = []
        for start in range(0, len(wanted), batch):
            opened += self._open_batch(host, port, path, wanted[start : start + batch], timeout_s)
        return opened

    def _open_batch(
        self, host: str, port: int, path: str, offers: list[list[str]], timeout_s: float
    ) -> list[WsSocket]:
        uri = parse_uri(f"ws://{host}:{port}{path}")
        pending: dict[int, WsSocket] = {}
        made: list[WsSocket] = []
        for offer in offers:
            sock = socket.create_connection((host, port), timeout=timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            protocol = ClientProtocol(uri, subprotocols=[Subprotocol(p) for p in offer])
            ws = WsSocket(sock, protocol)
            protocol.send_request(protocol.connect())
            ws._flush()
            sock.setblocking(False)
            pending[sock.fileno()] = ws
            made.append(ws)
            self.epoll.register(sock.fileno(), select.EPOLLIN)
            self.by_fd[sock.fileno()] = ws
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise WsError(f"{len(pending)} handshakes unanswered after {timeout_s} s")
            for fd, _ in self.epoll.poll(0.5):
                waiting = pending.get(fd)
                if waiting is None:
                    continue
                data = waiting.sock.recv(_RECV)
                if not data:
                    raise WsError("server closed during the handshake")
                waiting.protocol.receive_data(data)
                for event in waiting.protocol.events_received():
                    if isinstance(event, Response):
                        if event.status_code != 101 or waiting.protocol.handshake_exc is not None:
                            raise WsError(
                                f"handshake refused: {event.status_code}"
                                f" {waiting.protocol.handshake_exc!r}"
                            )
                        del pending[fd]
        return made

    def collect(self, marker: bytes, want: set[int], timeout_s: float) -> dict[int, float]:
        """Read every socket until each fd in `want` got a text frame containing `marker`;
        returns {fd: time.perf_counter() when its recv returned it}."""
        got: dict[int, float] = {}
        by_fd, poll, clock = self.by_fd, self.epoll.poll, time.perf_counter
        deadline = clock() + timeout_s
        remaining = set(want)
        while remaining:
            left = deadline - clock()
            if left <= 0:
                raise WsError(
                    f"{len(remaining)} of {len(want)} sockets did not receive {marker!r}"
                    f" within {timeout_s} s; last other frames: {self.other[-3:]!r}"
                )
            for fd, _ in poll(left):
                now = clock()
                ws = by_fd[fd]
                data = ws.sock.recv(_RECV)
                if not data:
                    raise WsError(f"server closed a socket (close code {ws.close_code})")
                for text in ws.frames(data):
                    if marker in text:
                        if fd in remaining:
                            remaining.discard(fd)
                            got[fd] = now
                    elif len(self.other) < 50:
                        self.other.append(text[:300])
                if ws.close_code is not None:
                    raise WsError(f"server closed a socket with {ws.close_code}")
        return got

    def drain(self, seconds: float) -> None:
        """Read whatever arrives for `seconds` (acks, stray frames)."""
        deadline = time.perf_counter() + seconds
        while (left := deadline - time.perf_counter()) > 0:
            for fd, _ in self.epoll.poll(left):
                ws = self.by_fd[fd]
                data = ws.sock.recv(_RECV)
                if data:
                    ws.frames(data)

    def close(self, sockets: Iterable[WsSocket] | None = None) -> None:
        for ws in list(sockets if sockets is not None else self.by_fd.values()):
            fd = ws.fd
            try:
                ws.protocol.send_close(1000)
                ws._flush()
            except OSError:
                pass
            if fd in self.by_fd:
                self.epoll.unregister(fd)
                del self.by_fd[fd]
            ws.sock.close()
