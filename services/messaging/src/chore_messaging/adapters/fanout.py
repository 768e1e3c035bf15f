"""The fan-out that reaches the sockets of every replica (the `Fanout` and `Subscriptions` ports).

- A `Channel` is one conversation with local subscribers. It subscribes to the
  conversation's core-NATS subject (`fanout.messaging.conv.<id>`), and releases messages
  to its subscribers strictly by `seq` (`InOrder`): two replicas' publishes may arrive
  swapped, and one lost on NATS is read back from the database after `gap_s`.
- After a message commits, the storing replica hands the encoded frame to its own channel
  and publishes the same bytes on NATS; every other replica's channel does the same with
  what it receives. One encoding per message, the same bytes queued to every socket.
- Subscribing with `since_seq` attaches first (live frames are held), replays from the
  database, then releases the held frames above the last replayed seq: no gap, no double.
- Notifications go to `fanout.messaging.users`; each replica pushes them to that user's
  local sockets.

Frames are encoded by the functions it is given (the api's wire protocol, via bootstrap).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final
from uuid import UUID

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription

from chore_common.bus.fanout import fanout_subject
from chore_messaging.adapters.metrics import FANOUT_SECONDS, GAP_REPAIRS, SLOW_DROPS
from chore_messaging.adapters.sockets import SocketRegistry
from chore_messaging.domain.limits import CLOSE_SLOW, InOrder
from chore_messaging.domain.model import Conversation, Message, Notification
from chore_messaging.usecases.ports import Socket

log = logging.getLogger(__name__)

CONVERSATION_TOPIC: Final = "messaging.conv"
USERS_TOPIC: Final = "messaging.users"

LastSeq = Callable[[UUID], Awaitable[int]]
Between = Callable[[UUID, int, int], Awaitable[list[Message]]]
MessageEncoder = Callable[[Message], bytes]
NotificationEncoder = Callable[[Notification], bytes]
InboxEncoder = Callable[[Conversation, UUID], bytes]  # a conversation's line, as `viewer` sees it
ReadEncoder = Callable[[UUID, UUID, int], bytes]  # (conversation, reader, seq)


def conversation_subject(conversation_id: UUID) -> str:
    return fanout_subject(f"{CONVERSATION_TOPIC}.{conversation_id}")


@dataclass(eq=False)
class Subscription:
    """One socket's interest in one conversation. Until `go_live`, releases are held."""

    conn: Socket
    channel: Channel
    last_seq: int = 0
    held: list[tuple[int, bytes]] | None = field(default_factory=list)
    max_held: int = 1024

    async def ready(self) -> int:
        await asyncio.shield(self.channel.ready)
        return self.channel.order.delivered

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

    def __init__(self, fanout: NatsFanout, conversation_id: UUID) -> None:
        self.fanout = fanout
        self.conversation_id = conversation_id
        self.subs: set[Subscription] = set()
        self.order: InOrder[bytes] = InOrder()
        self._early: list[tuple[int, bytes, float]] | None = []
        self._nats: NatsSubscription | None = None
        self._repair: asyncio.Task[None] | None = None
        self.ready: asyncio.Task[None] = asyncio.create_task(self._start(), name="channel-start")

    async def _start(self) -> None:
        nc, subject = self.fanout.nc, conversation_subject(self.conversation_id)
        self._nats = await nc.subscribe(subject, cb=self._on_nats)
        await nc.flush()  # the server has our interest: nothing published from now on is missed
        # Everything up to here was committed before this read: subscribers get it by replay.
        self.order.delivered = await self.fanout.last_seq(self.conversation_id)
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

    def _offer_read(self, missing: list[Message]) -> None:
        """Messages read back from the database, released like ones from NATS."""
        GAP_REPAIRS.inc(len(missing))
        now, encode = time.time(), self.fanout.message_frame
        for message in missing:
            self.offer(message.seq, encode(message), now)

    async def _fill_gap(self) -> None:
        """A seq is missing while later ones wait: give NATS `gap_s`, then read the database.

        A later seq being published means the earlier one committed (the conversation's
        lock is held from numbering to commit), so the read finds it.
        """
        await asyncio.sleep(self.fanout.gap_s)
        while (gap := self.order.gap) is not None:
            after, before = gap
            try:
                missing = await self.fanout.between(self.conversation_id, after, before)
            except Exception:
                log.warning("fanout.repair_failed", exc_info=True)
                await asyncio.sleep(self.fanout.gap_s)
                continue
            if not missing:
                log.error("fanout.gap_unfilled", extra={"after": after, "before": before})
                return
            self._offer_read(missing)

    def catch_up_soon(self) -> None:
        """Read messages after the last released one (e.g. after a NATS reconnect)."""
        if self._early is None and (self._repair is None or self._repair.done()):
            self._repair = asyncio.create_task(self._catch_up(), name="channel-catch-up")

    async def _catch_up(self) -> None:
        try:
            while True:
                after = self.order.delivered
                missing = await self.fanout.between(self.conversation_id, after, after + 501)
                if not missing:
                    return
                self._offer_read(missing)
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


class NatsFanout:
    """This replica's channels over core NATS: the `Fanout` port (delivery after a commit)
    and the `Subscriptions` port (which conversations each local socket follows)."""

    nc: NATS  # from `start`

    def __init__(
        self,
        sockets: SocketRegistry,
        *,
        last_seq: LastSeq,
        between: Between,
        message_frame: MessageEncoder,
        notification_frame: NotificationEncoder,
        inbox_frame: InboxEncoder,
        read_frame: ReadEncoder,
        gap_s: float = 0.25,
        replay_hold: int = 1024,
    ) -> None:
        self.sockets = sockets
        self.inbox_frame = inbox_frame
        self.read_frame = read_frame
        self.last_seq = last_seq
        self.between = between
        self.message_frame = message_frame
        self.notification_frame = notification_frame
        self.gap_s = gap_s
        self.replay_hold = replay_hold
        self.channels: dict[UUID, Channel] = {}
        self.by_socket: dict[Socket, dict[UUID, Subscription]] = {}
        self._users_sub: NatsSubscription | None = None
        self._watcher: asyncio.Task[None] | None = None

    async def start(self, nc: NATS) -> None:
        self.nc = nc
        self._users_sub = await self.nc.subscribe(
            fanout_subject(USERS_TOPIC), cb=self._on_notification
        )
        self._watcher = asyncio.create_task(self._watch_reconnects(), name="fanout-reconnects")

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

    async def stop(self) -> None:
        """After the sockets closed: stop watching, close every channel."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for channel in list(self.channels.values()):
            await channel.close()
        self.channels.clear()
        self.by_socket.clear()
        if self._users_sub is not None:
            with contextlib.suppress(Exception):
                await self._users_sub.unsubscribe()

    # -- the Subscriptions port --------------------------------------------------------

    def attach(self, socket: Socket, conversation_id: UUID) -> Subscription:
        """Start holding this conversation's live frames for `socket` (see `go_live`)."""
        channel = self.channels.get(conversation_id)
        if channel is None:
            channel = self.channels[conversation_id] = Channel(self, conversation_id)
        sub = Subscription(socket, channel, max_held=self.replay_hold)
        channel.subs.add(sub)
        self.by_socket.setdefault(socket, {})[conversation_id] = sub
        return sub

    async def unsubscribe(self, socket: Socket, conversation_id: UUID) -> None:
        subs = self.by_socket.get(socket)
        sub = None if subs is None else subs.pop(conversation_id, None)
        if subs is not None and not subs:
            del self.by_socket[socket]
        if sub is None:
            return
        channel = sub.channel
        channel.subs.discard(sub)
        if not channel.subs and self.channels.get(conversation_id) is channel:
            del self.channels[conversation_id]
            await channel.close()

    async def leave(self, socket: Socket) -> None:
        for conversation_id in list(self.by_socket.get(socket, ())):
            await self.unsubscribe(socket, conversation_id)

    # -- the Fanout port ---------------------------------------------------------------

    async def message_stored(self, conversation: Conversation, message: Message) -> None:
        data = self.message_frame(message)
        sent = time.time()
        channel = self.channels.get(conversation.id)
        if channel is not None:
            channel.offer(message.seq, data, sent)  # this replica's sockets, without a hop
        payload = f"{message.seq} {sent:.6f}\n".encode() + data
        await self.nc.publish(conversation_subject(conversation.id), payload)

    async def notify(self, notifications: list[Notification]) -> None:
        for note in notifications:
            await self.to_user(note.user_id, self.notification_frame(note))

    async def conversation_updated(self, conversation: Conversation) -> None:
        # Not to the sockets subscribed to the conversation: the `message` frame they get
        # says the same (seq, time, text), and a second frame per message would double the
        # writes of every fan-out.
        for viewer in (conversation.owner_id, conversation.tasker_id):
            frame = self.inbox_frame(conversation, viewer)
            await self.to_user(viewer, frame, unless_following=conversation.id)

    async def read(self, conversation: Conversation, reader_id: UUID, seq: int) -> None:
        receipt = self.read_frame(conversation.id, reader_id, seq)
        await self.to_user(conversation.peer_of(reader_id), receipt)
        # The reader's other devices: the conversation's unread count drops.
        await self.to_user(reader_id, self.inbox_frame(conversation, reader_id))

    async def to_user(
        self, user_id: UUID, data: bytes, *, unless_following: UUID | None = None
    ) -> None:
        """`data` (an encoded frame) to every socket of `user_id`, on every replica; with
        `unless_following`, not to the sockets subscribed to that conversation."""
        head = f"{user_id}" if unless_following is None else f"{user_id} {unless_following}"
        await self.nc.publish(fanout_subject(USERS_TOPIC), f"{head}\n".encode() + data)

    async def _on_notification(self, msg: Msg) -> None:
        head, _, body = msg.data.partition(b"\n")
        user_raw, _, following_raw = head.partition(b" ")
        try:
            user_id = UUID(user_raw.decode())
            following = UUID(following_raw.decode()) if following_raw else None
        except ValueError:
            log.warning("fanout.bad_notification")
            return
        for conn in self.sockets.of_user(user_id):
            if following is None or following not in self.by_socket.get(conn, ()):
                conn.push(body)
