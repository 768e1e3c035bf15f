"""The messaging service over real HTTP/WebSockets, a real database and a real nats-server.

Replicas are separate apps on free ports sharing one database and one NATS, exactly like
two pods. Conversations are opened the way production opens them: a `tasks.offer.created`
event applied by messaging's own use case (the consumer's path, minus the stream), or, in
the notification tests, published on the TASKS stream for the real consumer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.contracts.tasks import OfferCreatedV1
from chore_common.testing.apps import Client, StartApp, app_starter, migrated_engine
from chore_common.testing.issuer import Issuer, User
from chore_common.testing.nats import NatsServer
from chore_messaging.adapters.uow import MessagingUnitOfWork
from chore_messaging.app import MIGRATIONS, create_app
from chore_messaging.domain.model import Conversation, Message, Notification
from chore_messaging.settings import MessagingSettings
from chore_messaging.usecases import events

__all__ = ["Client", "Issuer", "User"]


class NoFanout:
    async def message_stored(self, conversation: Conversation, message: Message) -> None:
        return None

    async def notify(self, notifications: list[Notification]) -> None:
        return None

    async def conversation_updated(self, conversation: Conversation) -> None:
        return None

    async def read(self, conversation: Conversation, reader_id: UUID, seq: int) -> None:
        return None


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(database_url, MIGRATIONS, pool_size=5) as made:
        yield made


@pytest.fixture
def uow(engine: AsyncEngine) -> Callable[[], MessagingUnitOfWork]:
    return lambda: MessagingUnitOfWork(engine, producer="messaging")


@dataclass
class Pair:
    """A conversation and its two participants."""

    id: UUID
    task_id: UUID
    owner: User
    tasker: User


@pytest.fixture
def open_conversation(
    issuer: Issuer, uow: Callable[[], MessagingUnitOfWork]
) -> Callable[..., Awaitable[Pair]]:
    async def make(owner: User | None = None, tasker: User | None = None) -> Pair:
        owner = owner or issuer.user("client")
        tasker = tasker or issuer.user("tasker")
        task_id = uuid4()
        event = OfferCreatedV1(
            offer_id=uuid4(),
            task_id=task_id,
            owner_id=owner.id,
            tasker_id=tasker.id,
            title="Fix the sink",
            price_cents=5000,
            created_at=datetime.now(UTC),
        )
        async with uow() as work:
            await events.offer_created(work, uuid4(), event, datetime.now(UTC), NoFanout())
            await work.commit()
        from chore_messaging.domain.model import conversation_id

        return Pair(conversation_id(task_id, tasker.id), task_id, owner, tasker)

    return make


@pytest.fixture
def messaging_settings(
    database_url: str, nats_server: NatsServer, tmp_path: Path, issuer: Issuer
) -> MessagingSettings:
    return MessagingSettings(
        database_url=database_url,
        nats_url=nats_server.url,
        var_dir=tmp_path,
        jwks_url=issuer.jwks_url,
        migrate_on_start=True,
        consumer_enabled=False,  # the session's NATS is shared; consumer tests get their own
        ws_rate_per_s=1000,
        ws_burst=1000,
        shutdown_grace_s=2,
    )


@pytest.fixture
async def start_messaging(messaging_settings: MessagingSettings) -> AsyncIterator[StartApp]:
    """Start a messaging replica (optionally with changed settings) on a free port."""
    async with app_starter(create_app, messaging_settings) as start:
        yield start


@pytest.fixture
async def messaging(start_messaging: StartApp) -> Client:
    return await start_messaging()


@dataclass
class Socket:
    """A real aiohttp WebSocket client with helpers to read JSON frames."""

    ws: aiohttp.ClientWebSocketResponse
    session: aiohttp.ClientSession
    seen: list[dict[str, Any]] = field(default_factory=list)
    keep: bool = True  # False: frames are not kept in `seen` (memory tests)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(frame))

    async def recv(self, wait_s: float = 5.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=wait_s)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"expected a text frame, got {msg.type} {msg.data!r}")
        frame: dict[str, Any] = json.loads(msg.data)
        if self.keep:
            self.seen.append(frame)
        return frame

    async def until(self, kind: str, wait_s: float = 5.0, **match: Any) -> dict[str, Any]:
        """The next frame of type `kind` (and matching fields); others are kept in `seen`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            frame = await self.recv(wait_s=max(0.01, deadline - loop.time()))
            if frame.get("type") == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def subscribe(self, conversation_id: UUID, since_seq: int | None = 0) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "subscribe", "conversation_id": str(conversation_id)}
        if since_seq is not None:
            frame["since_seq"] = since_seq
        await self.send(frame)
        return await self.until("subscribed", conversation_id=str(conversation_id))

    async def closed(self, wait_s: float = 5.0) -> int | None:
        """Read until the server closes; returns the close code."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            msg = await self.ws.receive(timeout=max(0.01, deadline - loop.time()))
            if msg.type is aiohttp.WSMsgType.CLOSE:
                return int(msg.data)  # the code the server sent, whatever happens after
            if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                return self.ws.close_code
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.seen.append(json.loads(msg.data))

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


Connect = Callable[..., Awaitable[Socket]]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Open a WebSocket to a replica as `user` (token in the subprotocol, or `?token=`)."""
    opened: list[Socket] = []

    async def open_(client: Client, user: User, *, query: bool = False, **kw: Any) -> Socket:
        session = aiohttp.ClientSession()
        url = str(client.make_url("/messaging/ws"))
        if query:
            ws = await session.ws_connect(url, params={"token": user.token}, **kw)
        else:
            ws = await session.ws_connect(url, protocols=("bearer", user.token), **kw)
        sock = Socket(ws, session)
        opened.append(sock)
        return sock

    yield open_
    for sock in opened:
        await sock.close()
