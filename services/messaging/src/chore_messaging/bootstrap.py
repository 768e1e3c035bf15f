"""The one place messaging's adapters are built: the unit of work, this replica's sockets,
the NATS fan-out and the consumers of tasks and auth events. They reach the app as ports
(`keys.py`).

They start after the kit's resources (database, NATS, relay, token verifier) and stop
before them: the sockets close 1012 first, then the channels; the consumer finishes its batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from uuid import UUID

from aiohttp import web

from chore_common.auth.principal import REVOKED
from chore_common.bus.connection import NATS_CLIENT
from chore_common.bus.consumer import consumer_context
from chore_common.db import ENGINE
from chore_common.outbox.relay import RELAY
from chore_messaging.adapters.consumers import people_consumer, tasks_consumer
from chore_messaging.adapters.ephemeral import EphemeralBus
from chore_messaging.adapters.fanout import NatsFanout
from chore_messaging.adapters.mail_consumers import auth_mail_consumer, tasks_mail_consumer
from chore_messaging.adapters.mail_jobs import CountingSender, mail_jobs_context
from chore_messaging.adapters.mail_store import MailUnitOfWork
from chore_messaging.adapters.mail_templates import TEMPLATES, JinjaRenderer
from chore_messaging.adapters.presence import PresenceSockets
from chore_messaging.adapters.smtp import SmtpSender
from chore_messaging.adapters.sockets import SocketRegistry
from chore_messaging.api import frames
from chore_messaging.domain.limits import CLOSE_RESTART
from chore_messaging.domain.mail import RetryPolicy
from chore_messaging.domain.model import Message
from chore_messaging.keys import (
    EPHEMERAL,
    FANOUT,
    MESSAGING_SETTINGS,
    SOCKETS,
    SUBSCRIPTIONS,
    UOW,
)
from chore_messaging.settings import MessagingSettings

UowFactory = Callable[[], MailUnitOfWork]
Context = Callable[[web.Application], AsyncIterator[None]]


def bootstrap(app: web.Application, settings: MessagingSettings) -> None:
    """Build messaging's adapters and hand them to `app` as ports, with their lifecycles."""
    uow = uow_factory(app, settings)
    sockets = PresenceSockets(
        max_per_user=settings.ws_max_per_user,
        queue_size=settings.ws_send_queue,
        close_timeout_s=settings.ws_close_timeout_s,
        max_sockets=settings.ws_max_sockets,
        retry_after_s=settings.ws_retry_after_s,
    )
    fanout = nats_fanout(settings, sockets, uow)
    ephemeral = EphemeralBus(
        sockets,
        typing_frame=frames.typing_frame,
        presence_frame=frames.presence_frame,
        typing_every_s=settings.typing_every_s,
        presence_timeout_s=settings.presence_timeout_s,
    )
    app[EPHEMERAL] = ephemeral
    app[MESSAGING_SETTINGS] = settings
    app[UOW] = uow
    app[SOCKETS] = sockets
    app[FANOUT] = fanout
    app[SUBSCRIPTIONS] = fanout
    app.cleanup_ctx.append(_sockets_context(sockets, fanout, ephemeral))
    if settings.consumer_enabled:
        app.cleanup_ctx.append(
            consumer_context(
                lambda a: tasks_consumer(a[NATS_CLIENT].jetstream(), uow, fanout),
                grace_s=settings.shutdown_grace_s,
            )
        )
        app.cleanup_ctx.append(
            consumer_context(
                lambda a: people_consumer(a[NATS_CLIENT].jetstream(), uow),
                grace_s=settings.shutdown_grace_s,
            )
        )
    if settings.consumer_enabled and settings.mail_enabled:
        app.cleanup_ctx.extend(mail_contexts(settings, uow, sockets))

    async def close_sockets(app: web.Application) -> None:
        # on_shutdown runs before aiohttp waits for in-flight handlers: every socket handler
        # ends here, with 1012 so clients reconnect (elsewhere) and resume with since_seq.
        await sockets.close_all(CLOSE_RESTART, "service restarting")

    app.on_shutdown.append(close_sockets)


def uow_factory(app: web.Application, settings: MessagingSettings) -> UowFactory:
    """Units of work on the app's engine and relay (both there once the app has started)."""
    # SQLite: this process's transactions queue here first (adapters/uow.py says why).
    writer_lock = asyncio.Lock() if settings.is_sqlite else None

    def uow() -> MailUnitOfWork:
        # Messaging's unit of work with the mail notifier's repository: one writer lock.
        return MailUnitOfWork(
            app[ENGINE], producer=settings.service_name, relay=app[RELAY], writer_lock=writer_lock
        )

    return uow


def nats_fanout(
    settings: MessagingSettings, sockets: SocketRegistry, uow: UowFactory
) -> NatsFanout:
    async def last_seq(conversation_id: UUID) -> int:
        async with uow() as work:
            found = await work.conversations.get(conversation_id)
            return 0 if found is None else found.last_seq

    async def between(conversation_id: UUID, after: int, before: int) -> list[Message]:
        async with uow() as work:
            return await work.messages.between(conversation_id, after, before)

    return NatsFanout(
        sockets,
        last_seq=last_seq,
        between=between,
        message_frame=frames.message_frame,
        notification_frame=frames.notification_frame,
        inbox_frame=frames.conversation_updated_frame,
        read_frame=frames.read_frame,
        gap_s=settings.fanout_gap_s,
        replay_hold=settings.ws_send_queue,
    )


def _sockets_context(
    sockets: SocketRegistry, fanout: NatsFanout, ephemeral: EphemeralBus
) -> Context:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        await fanout.start(app[NATS_CLIENT])
        await ephemeral.start(app[NATS_CLIENT])
        stop_listening = app[REVOKED].on_revoke(sockets.revoke_session)
        try:
            yield
        finally:
            stop_listening()
            await sockets.close_all(CLOSE_RESTART, "service restarting")
            await ephemeral.stop()
            await fanout.stop()

    return ctx


def mail_contexts(
    settings: MessagingSettings, uow: UowFactory, sockets: PresenceSockets
) -> list[Context]:
    """The mail notifier: its two consumers and its background jobs (docs/adr/0008)."""
    render = JinjaRenderer(
        settings.mail_templates_dir or TEMPLATES,
        language=settings.mail_language,
        app_url=settings.mail_app_url,
    )
    sender = SmtpSender(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value(),
        tls=settings.smtp_tls,
        timeout_s=settings.smtp_timeout_s,
        sender=settings.mail_from,
        id_domain=settings.mail_id_domain,
    )
    grace = settings.shutdown_grace_s
    jobs = mail_jobs_context(
        uow,
        CountingSender(sender),
        render,
        sockets,
        policy=RetryPolicy(
            backoff_s=tuple(settings.mail_retry_s),
            give_up_after=timedelta(hours=settings.mail_give_up_h),
        ),
        poll_s=settings.mail_poll_s,
        batch=settings.mail_batch,
        # The lease outlasts a round in which every mail takes the whole timeout.
        lease_s=settings.mail_batch * settings.smtp_timeout_s + 30,
        digest_every_s=settings.mail_digest_every_s,
        offline_after=timedelta(hours=settings.mail_offline_h),
        presence_flush_s=settings.mail_presence_flush_s,
        grace_s=settings.smtp_timeout_s + 1,
    )
    return [
        consumer_context(
            lambda a: auth_mail_consumer(a[NATS_CLIENT].jetstream(), uow, render), grace_s=grace
        ),
        consumer_context(
            lambda a: tasks_mail_consumer(a[NATS_CLIENT].jetstream(), uow, render), grace_s=grace
        ),
        jobs,
    ]
