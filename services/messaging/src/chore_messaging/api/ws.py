"""GET /messaging/ws: one WebSocket per client, JSON frames (chore_messaging.frames).

The token comes as `Sec-WebSocket-Protocol: bearer, <jwt>` (answered with the `bearer`
subprotocol) or `?token=`; a bad one is refused before the upgrade (401). Then each frame
is rate-checked, parsed and handled in turn; whatever goes wrong with one frame becomes an
`error` frame and the socket carries on. Close codes are in docs/messaging.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from uuid import UUID

from aiohttp import WSMsgType, web

from chore_common.auth.principal import principal, requires
from chore_common.clock import utcnow
from chore_common.errors import DomainError
from chore_messaging import frames
from chore_messaging.adapters.hub import (
    CLOSE_AUTH,
    CLOSE_RATE,
    CLOSE_TOO_MANY,
    HUB,
    Connection,
    Hub,
)
from chore_messaging.adapters.metrics import CLOSES, FRAMES_IN
from chore_messaging.domain.limits import FloodGuard, Verdict
from chore_messaging.domain.model import FRAME_MAX_BYTES
from chore_messaging.keys import MESSAGING_SETTINGS, UOW, UowFactory
from chore_messaging.settings import MessagingSettings
from chore_messaging.usecases import messages

log = logging.getLogger(__name__)

routes = web.RouteTableDef()
CLOSE_IDLE = 1000
CLOSE_INTERNAL = 1011


@routes.get("/messaging/ws")
@requires(query_token=True)
async def websocket(request: web.Request) -> web.WebSocketResponse:
    who = principal(request)
    settings = request.app[MESSAGING_SETTINGS]
    hub = request.app[HUB]
    ws = web.WebSocketResponse(
        protocols=("bearer",),
        heartbeat=settings.ws_heartbeat_s,
        max_msg_size=FRAME_MAX_BYTES,  # bigger: aiohttp closes with 1009
        compress=False,  # the same encoded text goes to every socket
        timeout=settings.ws_close_timeout_s,
    )
    await ws.prepare(request)
    if hub.open_for(who.user_id) >= settings.ws_max_per_user:
        # After the upgrade, not before: a browser sees a close code and reason, never the
        # status of a refused handshake. Nothing awaits between this count and `hub.add`.
        CLOSES.labels(str(CLOSE_TOO_MANY)).inc()
        await ws.close(
            code=CLOSE_TOO_MANY,
            message=f"too many connections: at most {settings.ws_max_per_user} per user".encode(),
            drain=False,
        )
        return ws
    conn = Connection(
        ws,
        user_id=who.user_id,
        session_id=who.session_id,
        queue_size=settings.ws_send_queue,
        close_timeout_s=settings.ws_close_timeout_s,
        transport=request.transport,
    )
    hub.add(conn)
    loop = asyncio.get_running_loop()
    expiry = loop.call_later(
        max(0.0, who.expires_at - time.time()), conn.close_soon, CLOSE_AUTH, "token expired"
    )
    try:
        await SocketSession(conn, hub, request.app[UOW], settings).run()
    except Exception:
        # After the upgrade an HTTP 500 cannot be sent (the error middleware would write
        # one into the socket): close with 1011, the WebSocket's "internal error".
        log.exception("ws.session_failed")
        conn.close_soon(CLOSE_INTERNAL, "internal error")
    finally:
        expiry.cancel()
        await hub.remove(conn)
        await conn.finish()
    return ws


class SocketSession:
    """The reader loop of one socket and what each client frame does."""

    def __init__(
        self, conn: Connection, hub: Hub, uow: UowFactory, settings: MessagingSettings
    ) -> None:
        self.conn = conn
        self.hub = hub
        self.uow = uow
        self.settings = settings
        self.guard = FloodGuard(
            rate=settings.ws_rate_per_s,
            burst=settings.ws_burst,
            max_strikes=settings.ws_flood_strikes,
        )

    async def run(self) -> None:
        ws, conn = self.conn.ws, self.conn
        loop = asyncio.get_running_loop()
        while not conn.closing:
            try:
                msg = await ws.receive(timeout=self.settings.ws_idle_timeout_s)
            except TimeoutError:
                conn.close_soon(CLOSE_IDLE, "idle")
                return
            if msg.type is WSMsgType.TEXT:
                verdict = self.guard.check(loop.time())
                if verdict is Verdict.ALLOW:
                    await self.handle(msg.data)
                elif verdict is Verdict.REJECT:
                    FRAMES_IN.labels("rate_limited").inc()
                    conn.push(frames.error_frame("rate_limited", "slow down: frame refused"))
                else:
                    FRAMES_IN.labels("rate_limited").inc()
                    conn.close_soon(CLOSE_RATE, "rate limit exceeded")
                    return
            elif msg.type is WSMsgType.BINARY:
                FRAMES_IN.labels("binary").inc()
                conn.push(frames.error_frame("invalid_json", "frames are JSON text"))
            else:  # CLOSE, CLOSING, CLOSED, ERROR (too big: aiohttp has closed with 1009)
                return

    async def handle(self, text: str) -> None:
        conn = self.conn
        try:
            frame = frames.parse_client_frame(text)
        except frames.FrameError as exc:
            FRAMES_IN.labels("invalid").inc()
            conn.push(frames.error_frame(exc.code, exc.detail))
            return
        FRAMES_IN.labels(frame.type).inc()
        conversation_id = getattr(frame, "conversation_id", None)
        client_msg_id = getattr(frame, "client_msg_id", None)
        try:
            if isinstance(frame, frames.Ping):
                conn.push(frames.PONG)
            elif isinstance(frame, frames.Send):
                await self.send(frame)
            elif isinstance(frame, frames.Subscribe):
                await self.subscribe(frame.conversation_id, frame.since_seq)
            elif isinstance(frame, frames.Unsubscribe):
                await self.hub.unsubscribe(conn, frame.conversation_id)
            else:
                await messages.mark_read(self.uow(), frame.conversation_id, conn.user_id, frame.seq)
        except DomainError as exc:
            conn.push(
                frames.error_frame(
                    exc.code,
                    exc.detail,
                    conversation_id=conversation_id,
                    client_msg_id=client_msg_id,
                )
            )
        except Exception:  # a bug or the database: this frame fails, the socket goes on
            log.exception("ws.frame_failed", extra={"type": frame.type})
            conn.push(
                frames.error_frame(
                    "internal_error",
                    "the frame could not be handled; try again",
                    conversation_id=conversation_id,
                    client_msg_id=client_msg_id,
                )
            )

    async def send(self, frame: frames.Send) -> None:
        cmd = messages.SendMessage(
            conversation_id=frame.conversation_id,
            sender_id=self.conn.user_id,
            body=frame.body,
            client_msg_id=frame.client_msg_id,
        )
        sent = await messages.send_message(self.uow(), cmd, utcnow(), self.hub)
        ack = frames.AckFrame(
            client_msg_id=frame.client_msg_id,
            seq=sent.message.seq,
            conversation_id=sent.message.conversation_id,
            id=sent.message.id,
            duplicate=sent.duplicate,
        )
        self.conn.push(frames.encode(ack))

    async def subscribe(self, conversation_id: UUID, since_seq: int | None) -> None:
        """Attach (live frames held), replay after `since_seq`, then release the held ones
        above the last replayed seq: every message once, in order, across the seam."""
        conn, hub = self.conn, self.hub
        await messages.conversation_for(self.uow(), conversation_id, conn.user_id)
        await hub.unsubscribe(conn, conversation_id)  # a second subscribe restarts the first
        sub = hub.attach(conn, conversation_id)
        try:
            await asyncio.shield(sub.channel.ready)
            last = await self._replay(conversation_id, since_seq, sub.channel.order.delivered)
        except BaseException:
            await hub.unsubscribe(conn, conversation_id)
            raise
        sub.go_live(last)
        subscribed = frames.SubscribedFrame(conversation_id=conversation_id, last_seq=sub.last_seq)
        conn.push(frames.encode(subscribed))

    async def _replay(self, conversation_id: UUID, since_seq: int | None, live_from: int) -> int:
        """Push every stored message after `since_seq`; returns the last seq pushed."""
        conn = self.conn
        if since_seq is None:
            return live_from  # live only, from now
        last, page = since_seq, self.settings.replay_page
        while not conn.closing:
            found = await messages.history(
                self.uow(), conversation_id, conn.user_id, after_seq=last, limit=page
            )
            for message in found:
                # Waits for room: a long history paces itself on the reader, not memory.
                await conn.put(frames.message_frame(message), stall_s=self.settings.ws_stall_s)
                last = message.seq
            if len(found) < page:
                break
        return last
