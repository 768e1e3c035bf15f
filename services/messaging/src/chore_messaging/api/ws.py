"""GET /messaging/ws: one WebSocket per client, JSON frames (api/frames.py).

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
from chore_messaging.api import frames
from chore_messaging.domain.limits import (
    CLOSE_AUTH,
    CLOSE_IDLE,
    CLOSE_INTERNAL,
    CLOSE_RATE,
    FloodGuard,
    Verdict,
)
from chore_messaging.domain.model import FRAME_MAX_BYTES
from chore_messaging.keys import (
    EPHEMERAL,
    FANOUT,
    MESSAGING_SETTINGS,
    SOCKETS,
    SUBSCRIPTIONS,
    UOW,
    UowFactory,
)
from chore_messaging.settings import MessagingSettings
from chore_messaging.usecases import messages
from chore_messaging.usecases.ports import Ephemeral, Fanout, Socket, Subscriptions

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


@routes.get("/messaging/ws")
@requires(query_token=True)
async def websocket(request: web.Request) -> web.WebSocketResponse:
    who = principal(request)
    settings = request.app[MESSAGING_SETTINGS]
    sockets = request.app[SOCKETS]
    ws = web.WebSocketResponse(
        protocols=("bearer",),
        heartbeat=settings.ws_heartbeat_s,
        max_msg_size=FRAME_MAX_BYTES,  # bigger: aiohttp closes with 1009
        compress=False,  # the same encoded text goes to every socket
        timeout=settings.ws_close_timeout_s,
    )
    await ws.prepare(request)
    conn = await sockets.connect(
        ws, user_id=who.user_id, session_id=who.session_id, transport=request.transport
    )
    if conn is None:  # over the user's cap: closed 4429
        return ws
    ephemeral = request.app[EPHEMERAL]
    await ephemeral.joined(who.user_id)
    subscriptions = request.app[SUBSCRIPTIONS]
    loop = asyncio.get_running_loop()
    expiry = loop.call_later(
        max(0.0, who.expires_at - time.time()), conn.close_soon, CLOSE_AUTH, "token expired"
    )
    session = SocketSession(
        ws, conn, subscriptions, request.app[FANOUT], request.app[UOW], settings, ephemeral
    )
    try:
        await session.run()
    except Exception:
        # After the upgrade an HTTP 500 cannot be sent (the error middleware would write
        # one into the socket): close with 1011, the WebSocket's "internal error".
        log.exception("ws.session_failed")
        conn.close_soon(CLOSE_INTERNAL, "internal error")
    finally:
        expiry.cancel()
        ephemeral.forget(conn)
        await subscriptions.leave(conn)
        await sockets.disconnect(conn)
        await ephemeral.left(who.user_id)
    return ws


class SocketSession:
    """The reader loop of one socket and what each client frame does."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        conn: Socket,
        subscriptions: Subscriptions,
        fanout: Fanout,
        uow: UowFactory,
        settings: MessagingSettings,
        ephemeral: Ephemeral,
    ) -> None:
        self.ws = ws
        self.ephemeral = ephemeral
        self.conn = conn
        self.subscriptions = subscriptions
        self.fanout = fanout
        self.uow = uow
        self.settings = settings
        self.guard = FloodGuard(
            rate=settings.ws_rate_per_s,
            burst=settings.ws_burst,
            max_strikes=settings.ws_flood_strikes,
        )

    async def run(self) -> None:
        ws, conn = self.ws, self.conn
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
                    conn.received("rate_limited")
                    conn.push(frames.error_frame("rate_limited", "slow down: frame refused"))
                else:
                    conn.received("rate_limited")
                    conn.close_soon(CLOSE_RATE, "rate limit exceeded")
                    return
            elif msg.type is WSMsgType.BINARY:
                conn.received("binary")
                conn.push(frames.error_frame("invalid_json", "frames are JSON text"))
            else:  # CLOSE, CLOSING, CLOSED, ERROR (too big: aiohttp has closed with 1009)
                return

    async def handle(self, text: str) -> None:
        conn = self.conn
        try:
            frame = frames.parse_client_frame(text)
        except frames.FrameError as exc:
            conn.received("invalid")
            conn.push(frames.error_frame(exc.code, exc.detail))
            return
        conn.received(frame.type)
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
                await self.subscriptions.unsubscribe(conn, frame.conversation_id)
            elif isinstance(frame, frames.Typing):
                await self.typing(frame.conversation_id)
            else:
                await messages.mark_read(
                    self.uow(), frame.conversation_id, conn.user_id, frame.seq, self.fanout
                )
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
        sent = await messages.send_message(self.uow(), cmd, utcnow(), self.fanout)
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
        conn, subscriptions = self.conn, self.subscriptions
        found = await messages.conversation_for(self.uow(), conversation_id, conn.user_id)
        await subscriptions.unsubscribe(conn, conversation_id)  # a second one restarts the first
        sub = subscriptions.attach(conn, conversation_id)
        try:
            live_from = await sub.ready()
            last = await self._replay(conversation_id, since_seq, live_from)
        except BaseException:
            await subscriptions.unsubscribe(conn, conversation_id)
            raise
        sub.go_live(last)
        subscribed = frames.SubscribedFrame(conversation_id=conversation_id, last_seq=sub.last_seq)
        conn.push(frames.encode(subscribed))
        self.ephemeral.watch(conn, found.peer_of(conn.user_id))  # their presence, now and on

    async def typing(self, conversation_id: UUID) -> None:
        """Over the sender's rate: dropped silently (typing is a hint, not a request)."""
        if not self.ephemeral.typing_allowed(self.conn.user_id, conversation_id):
            return
        found = await messages.conversation_for(self.uow(), conversation_id, self.conn.user_id)
        await self.ephemeral.typing(found, self.conn.user_id)

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
