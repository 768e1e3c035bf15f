"""`create_app(settings)`: the messaging service as an aiohttp application.

Resources start in order and stop in reverse: database, NATS (+ streams), outbox relay,
token verifier (JWKS + the revocation feed), then messaging's own: the unit of work, the
socket hub (whose sockets close 1012 on shutdown, before in-flight requests are awaited),
and the consumer of tasks events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from chore_common.assembly import storage_app
from chore_common.auth.principal import REVOKED, bearer_middleware
from chore_common.bus.connection import NATS_CLIENT
from chore_common.bus.consumer import consumer_context
from chore_common.db import ENGINE
from chore_common.db.migrations import upgrade_head
from chore_common.outbox.relay import RELAY
from chore_messaging.adapters.consumer import tasks_consumer
from chore_messaging.adapters.hub import CLOSE_RESTART, HUB, Hub
from chore_messaging.adapters.uow import MessagingUnitOfWork
from chore_messaging.api.rest import routes as rest_routes
from chore_messaging.api.ws import routes as ws_routes
from chore_messaging.domain.model import Message
from chore_messaging.keys import MESSAGING_SETTINGS, UOW
from chore_messaging.settings import MessagingSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def migrate(settings: MessagingSettings) -> None:
    upgrade_head(settings.database_url, MIGRATIONS)


def create_app(settings: MessagingSettings) -> web.Application:
    app = storage_app(settings, migrations=MIGRATIONS, idempotency=False)
    app[MESSAGING_SETTINGS] = settings
    app.add_routes(rest_routes)
    app.add_routes(ws_routes)
    app.middlewares.append(bearer_middleware)
    app.cleanup_ctx.append(_messaging_context(settings))
    if settings.consumer_enabled:
        app.cleanup_ctx.append(
            consumer_context(
                lambda a: tasks_consumer(a[NATS_CLIENT].jetstream(), a[UOW], a[HUB]),
                grace_s=settings.shutdown_grace_s,
            )
        )
    app.on_shutdown.append(_close_sockets)
    return app


async def _close_sockets(app: web.Application) -> None:
    # on_shutdown runs before aiohttp waits for in-flight handlers: every socket handler
    # ends here, with 1012 so clients reconnect (elsewhere) and resume with since_seq.
    hub = app.get(HUB)
    if hub is not None:
        await hub.close_all(CLOSE_RESTART, "service restarting")


def _messaging_context(
    settings: MessagingSettings,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        engine, relay = app[ENGINE], app[RELAY]
        writer_lock = asyncio.Lock() if settings.is_sqlite else None

        def uow() -> MessagingUnitOfWork:
            return MessagingUnitOfWork(
                engine, producer=settings.service_name, relay=relay, writer_lock=writer_lock
            )

        async def last_seq(conversation_id: object) -> int:
            async with uow() as work:
                found = await work.conversations.get(conversation_id)  # type: ignore[arg-type]
                return 0 if found is None else found.last_seq

        async def between(conversation_id: object, after: int, before: int) -> list[Message]:
            async with uow() as work:
                return await work.messages.between(conversation_id, after, before)  # type: ignore[arg-type]

        hub = Hub(
            app[NATS_CLIENT],
            last_seq=last_seq,
            between=between,
            gap_s=settings.fanout_gap_s,
            replay_hold=settings.ws_send_queue,
        )
        await hub.start()
        stop_listening = app[REVOKED].on_revoke(hub.revoke_session)
        app[UOW] = uow
        app[HUB] = hub
        try:
            yield
        finally:
            stop_listening()
            await hub.stop()

    return ctx
