"""Typing and presence over core NATS (the `Ephemeral` port): never stored, never replayed.

- Typing: `fanout.messaging.typing`, `"<sender> <conversation> <peer>"`. Throttled twice per
  (sender, conversation): where it is sent (so a chatty client costs no query and no
  publish) and where it is delivered (every replica hears every typing signal, so a sender
  with sockets on two replicas still reaches the peer at most once per period).
- Presence: `fanout.messaging.presence`, JSON `{op, replica, users, wall}`. Each replica says
  `on`/`off` the moment a user's first socket opens / last one closes here, a `beat` of all
  its users every third of the timeout, and asks for everyone's beat (`sync`) when it starts.
  Every replica keeps the same `PresenceBook` from that stream, so all agree; a replica
  killed with -9 stops beating and its users go offline once the timeout passes.
- A socket watches the other participant of each conversation it subscribes to: it gets
  their presence at once, then every change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Final
from uuid import UUID, uuid4

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription

from chore_common.bus.fanout import fanout_subject
from chore_messaging.adapters.sockets import SocketRegistry
from chore_messaging.domain.model import Conversation
from chore_messaging.domain.presence import ONLINE, Change, PresenceBook, Throttle
from chore_messaging.usecases.ports import Socket

log = logging.getLogger(__name__)

TYPING_SUBJECT: Final = fanout_subject("messaging.typing")
PRESENCE_SUBJECT: Final = fanout_subject("messaging.presence")

TypingEncoder = Callable[[UUID, UUID], bytes]  # (conversation, typist)
PresenceEncoder = Callable[[UUID, bool, float | None], bytes]  # (user, online, last seen)


class EphemeralBus:
    nc: NATS  # from `start`

    def __init__(
        self,
        sockets: SocketRegistry,
        *,
        typing_frame: TypingEncoder,
        presence_frame: PresenceEncoder,
        typing_every_s: float,
        presence_timeout_s: float,
    ) -> None:
        self.sockets = sockets
        self.typing_frame = typing_frame
        self.presence_frame = presence_frame
        self.replica = uuid4().hex
        self.sent = Throttle(typing_every_s)
        self.delivered = Throttle(typing_every_s)
        self.book = PresenceBook(presence_timeout_s)
        self.beat_s = presence_timeout_s / 3
        self.watchers: dict[UUID, set[Socket]] = {}
        self.watching: dict[Socket, set[UUID]] = {}
        self._subs: list[NatsSubscription] = []
        self._loop: asyncio.Task[None] | None = None

    async def start(self, nc: NATS) -> None:
        self.nc = nc
        self._subs = [
            await nc.subscribe(TYPING_SUBJECT, cb=self._on_typing),
            await nc.subscribe(PRESENCE_SUBJECT, cb=self._on_presence),
        ]
        await self._say("sync", [])
        self._loop = asyncio.create_task(self._keep(), name="presence")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    # -- typing ------------------------------------------------------------------------

    def typing_allowed(self, sender_id: UUID, conversation_id: UUID) -> bool:
        return self.sent.allow((sender_id, conversation_id), time.monotonic())

    async def typing(self, conversation: Conversation, sender_id: UUID) -> None:
        peer = conversation.peer_of(sender_id)
        await self.nc.publish(TYPING_SUBJECT, f"{sender_id} {conversation.id} {peer}".encode())

    async def _on_typing(self, msg: Msg) -> None:
        try:
            sender, conversation, peer = (UUID(p) for p in msg.data.decode().split(" "))
        except ValueError:
            log.warning("ephemeral.bad_typing")
            return
        if not self.delivered.allow((sender, conversation), time.monotonic()):
            return
        frame = self.typing_frame(conversation, sender)
        for conn in self.sockets.of_user(peer):
            conn.push(frame)

    # -- presence ----------------------------------------------------------------------

    async def joined(self, user_id: UUID) -> None:
        await self._say("on", [user_id])

    async def left(self, user_id: UUID) -> None:
        if self.sockets.open_for(user_id) == 0:
            await self._say("off", [user_id])

    def watch(self, socket: Socket, user_id: UUID) -> None:
        self.watchers.setdefault(user_id, set()).add(socket)
        self.watching.setdefault(socket, set()).add(user_id)
        online = self.book.is_online(user_id)
        socket.push(self.presence_frame(user_id, online, self.book.last_seen.get(user_id)))

    def forget(self, socket: Socket) -> None:
        for user_id in self.watching.pop(socket, ()):
            watchers = self.watchers.get(user_id)
            if watchers is not None:
                watchers.discard(socket)
                if not watchers:
                    del self.watchers[user_id]

    async def _say(self, op: str, users: Iterable[UUID]) -> None:
        body = {
            "op": op,
            "replica": self.replica,
            "users": [str(u) for u in users],
            "wall": time.time(),
        }
        with contextlib.suppress(Exception):  # NATS away: the next beat says it again
            await self.nc.publish(PRESENCE_SUBJECT, json.dumps(body).encode())

    async def _on_presence(self, msg: Msg) -> None:
        try:
            body: dict[str, Any] = json.loads(msg.data)
            op, replica, wall = str(body["op"]), str(body["replica"]), float(body["wall"])
            users = {UUID(u) for u in body["users"]}
        except (ValueError, KeyError, TypeError):
            log.warning("ephemeral.bad_presence")
            return
        now = time.monotonic()
        if op == "on":
            self._announce(self.book.on(replica, users, now, wall))
        elif op == "off":
            self._announce(self.book.off(replica, users, wall))
        elif op == "beat":
            self._announce(self.book.beat(replica, users, now, wall))
        elif op == "sync" and replica != self.replica:
            await self._say("beat", list(self.sockets.by_user))

    def _announce(self, changes: list[Change]) -> None:
        for change in changes:
            user_id = change.user
            if not isinstance(user_id, UUID):
                continue
            frame = self.presence_frame(user_id, change.status == ONLINE, change.last_seen)
            for socket in list(self.watchers.get(user_id, ())):
                socket.push(frame)

    async def _keep(self) -> None:
        """Beat every third of the timeout; expire silent replicas' users several times as often."""
        tick = min(1.0, self.beat_s / 2)
        next_beat = 0.0
        while True:
            now = time.monotonic()
            if now >= next_beat:
                next_beat = now + self.beat_s
                await self._say("beat", list(self.sockets.by_user))
            self._announce(self.book.expire(now))
            await asyncio.sleep(tick)
