"""WebSocket proxying, once the upgrade is allowed: both directions copied with bounded memory.

- **Flow.** Each direction copies one message at a time. aiohttp stops reading a socket once
  about 128 KiB of messages wait in its queue, and a write waits while the destination's
  transport holds more than its high-water mark, so a direction holds a few hundred KiB here
  at most, whatever the peers do: a slow reader slows the sender behind it (TCP
  backpressure), no buffer grows.
- **A client that does not read.** Backpressure alone would hold its socket, and the
  upstream's, open for ever with every buffer on the way full. A write to the client that
  waits longer than `stall_s` ends it: close 1013 ("too slow"), then the connection is cut
  (reset, its unsent bytes dropped) if the client has not answered within `CLOSE_TIMEOUT_S`:
  with its buffers full it cannot even read the close frame. The upstream is closed 1001,
  which frees the socket there at once.
- **Close.** Whichever side ends first, the other direction is stopped before anything is
  closed: aiohttp's `close()` of a socket that another task is reading closes the transport
  at once instead of waiting for the peer's answer, and with a client's flood still unread
  that close goes out as a reset which destroys the close frame in flight. Then both sides
  are closed together (`domain/websocket_close.py` decides the codes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from typing import Final

import aiohttp
from aiohttp import web

from chore_common.http.problem import HttpProblem
from chore_common.keys import SETTINGS
from chore_gateway.adapters import metrics
from chore_gateway.adapters.deadlines import ClientLate, Deadline, Deadlines
from chore_gateway.domain.websocket_close import TOO_SLOW, End, Ending, closing_for
from chore_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024
CLOSE_TIMEOUT_S: Final = 2.0  # wait for the peer's answer to our close frame, then cut
_REASON_MAX: Final = 123  # bytes: a close frame's payload is at most 125
_LINGER_RESET: Final = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset

AnyWebSocket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse


def handshake_problem(request: web.Request, offered: list[str]) -> HttpProblem | None:
    """A request that asks to upgrade but is no valid WebSocket handshake: 400, before any
    upstream is involved."""
    # Offered as our own protocols so that they overlap: aiohttp logs the client's list when
    # none does, and that list carries the bearer token.
    if request.method == "GET" and web.WebSocketResponse(protocols=offered).can_prepare(request):
        return None
    return HttpProblem(
        400,
        code="invalid_websocket_handshake",
        detail="Upgrade: websocket needs a GET with a valid WebSocket handshake (RFC 6455).",
    )


def refused(service: str, path: str, status: int, message: str) -> HttpProblem:
    """The upstream answered the upgrade with something other than a WebSocket."""
    if status >= 400:  # it refused: its status is the client's answer
        return HttpProblem(
            status,
            code="websocket_refused",
            detail=f"The {service} service refused the WebSocket: {message}",
        )
    if status == 101:  # it switched protocols, but its handshake was not valid
        return HttpProblem(
            502,
            code="bad_websocket_upstream",
            detail=f"The {service} service answered the upgrade with an invalid handshake.",
        )
    # An ordinary answer (200, 3xx): an HTTP route, not a WebSocket.
    return HttpProblem(
        400,
        code="websocket_not_supported",
        detail=f"{path} is not a WebSocket endpoint; only plain HTTP requests are served there.",
    )


def client_socket(protocol: str | None) -> web.WebSocketResponse:
    """The client's side, accepting the subprotocol the upstream chose."""
    return web.WebSocketResponse(
        protocols=(protocol,) if protocol else (),
        autoclose=False,
        autoping=True,
        max_msg_size=MAX_MESSAGE_BYTES,
        timeout=CLOSE_TIMEOUT_S,  # for the client's answer to a close frame
    )


async def refuse_full(
    request: web.Request, offered: list[str], retry_after_s: int
) -> web.WebSocketResponse:
    """This gateway process holds its cap of WebSockets: accept the upgrade (a browser sees
    a close code and reason, never a refused handshake's status), then close 1013 "try again
    later" with the hint clients back off by, before any upstream is involved."""
    metrics.REFUSED.labels("websocket_full").inc()
    ws = web.WebSocketResponse(protocols=offered[:1], autoping=False)
    await ws.prepare(request)
    await _close(ws, TOO_SLOW, f"gateway full: retry-after={retry_after_s}")
    return ws


def stall_limit(app: web.Application) -> float:
    """`GATEWAY_WS_STALL_S`: how long a write to a client may wait before it is ended."""
    settings = app[SETTINGS]
    assert isinstance(settings, GatewaySettings)
    return settings.ws_stall_s


class Splice:
    """Both directions of one proxied WebSocket, and their ending."""

    def __init__(
        self,
        client: web.WebSocketResponse,
        upstream: aiohttp.ClientWebSocketResponse,
        transport: asyncio.Transport | None,
        *,
        deadlines: Deadlines,
        stall_s: float,
        service: str,
    ) -> None:
        self.client = client
        self.upstream = upstream
        self.transport = transport  # the client's connection
        self.deadlines = deadlines
        self.stall_s = stall_s
        self.service = service

    async def run(self) -> None:
        up = asyncio.create_task(self._relay(self.client, self.upstream, stall=False), name="ws-up")
        down = asyncio.create_task(
            self._relay(self.upstream, self.client, stall=True), name="ws-down"
        )
        try:
            done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Stop the other direction before closing anything (see the module docstring).
            for task in (up, down):
                task.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
        first = down if down in done else up  # both done: the upstream's account wins
        closing = closing_for(first.result(), from_upstream=first is down)
        if closing.cut_client:
            log.warning(
                "gateway.websocket_too_slow",
                extra={"upstream": self.service, "stall_s": self.stall_s},
            )
        await asyncio.gather(
            self._close_client(*closing.client, cut=closing.cut_client),
            _close(self.upstream, *closing.upstream),
        )

    async def _relay(self, src: AnyWebSocket, dst: AnyWebSocket, *, stall: bool) -> Ending:
        """Copy messages from src to dst until either ends. With `stall`, a write that waits
        longer than `stall_s` ends it: the client's deadline (adapters/deadlines.py, a dict
        entry per message, no timer)."""
        if not stall:
            return await _copy(src, dst, None, 0.0)
        try:
            async with self.deadlines.watch() as deadline:
                return await _copy(src, dst, deadline, self.stall_s)
        except ClientLate:
            return Ending(End.STALLED)

    async def _close_client(self, code: int, reason: str, *, cut: bool) -> None:
        await _close(self.client, code, reason)
        transport = self.transport
        if transport is not None and (cut or transport.get_write_buffer_size()):
            # Bytes the client has not taken by now (it did not answer the close frame) would
            # hold the connection for as long as it reads nothing: reset it, dropping them.
            sock = transport.get_extra_info("socket")
            with contextlib.suppress(OSError):  # already closed
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            transport.abort()


async def _copy(
    src: AnyWebSocket, dst: AnyWebSocket, deadline: Deadline | None, stall_s: float
) -> Ending:
    """Messages from src to dst until either ends; with a deadline, each write is due within
    `stall_s` (the client's time: it must take what it is sent)."""
    time = asyncio.get_running_loop().time
    text, binary = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY
    while True:
        msg = await src.receive()
        kind = msg.type
        if kind is text or kind is binary:
            if deadline is not None:
                deadline.client(time() + stall_s)
            try:
                if kind is text:
                    await dst.send_str(msg.data)
                else:
                    await dst.send_bytes(msg.data)
            except (ConnectionError, aiohttp.ClientError, RuntimeError):
                return Ending(End.DESTINATION_LOST)
            finally:
                if deadline is not None:
                    deadline.pause()
        elif kind is aiohttp.WSMsgType.CLOSE:
            return Ending(End.CLOSED, int(msg.data or 0), str(msg.extra or ""))
        elif kind in (
            aiohttp.WSMsgType.CLOSING,  # our own close (shutdown) began
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
        ):
            return Ending(End.SOURCE_LOST)
        # PING/PONG are answered by each side itself (autoping)


async def _close(ws: AnyWebSocket, code: int, reason: str) -> None:
    message = reason.encode()[:_REASON_MAX]
    try:
        if isinstance(ws, web.WebSocketResponse):
            # No drain: a client that reads nothing would hold the drain for ever.
            await ws.close(code=code, message=message, drain=False)
        else:
            await ws.close(code=code, message=message)
    except (ConnectionError, aiohttp.ClientError, RuntimeError):
        pass  # it is gone already
