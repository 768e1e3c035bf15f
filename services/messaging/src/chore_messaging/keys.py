"""Typed application keys of the messaging service, typed with the ports bootstrap hands over."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from chore_messaging.settings import MessagingSettings
from chore_messaging.usecases.ports import (
    Ephemeral,
    Fanout,
    MessagingUnitOfWork,
    Sockets,
    Subscriptions,
)

UowFactory = Callable[[], MessagingUnitOfWork]

UOW: web.AppKey[UowFactory] = web.AppKey("messaging.uow")
MESSAGING_SETTINGS = web.AppKey("messaging.settings", MessagingSettings)
SOCKETS: web.AppKey[Sockets[web.WebSocketResponse]] = web.AppKey("messaging.sockets")
SUBSCRIPTIONS: web.AppKey[Subscriptions] = web.AppKey("messaging.subscriptions")
FANOUT: web.AppKey[Fanout] = web.AppKey("messaging.fanout")
EPHEMERAL: web.AppKey[Ephemeral] = web.AppKey("messaging.ephemeral")
