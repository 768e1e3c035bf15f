"""Typed application keys of the messaging service."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from chore_messaging.adapters.uow import MessagingUnitOfWork
from chore_messaging.settings import MessagingSettings

UowFactory = Callable[[], MessagingUnitOfWork]

UOW: web.AppKey[UowFactory] = web.AppKey("messaging.uow")
MESSAGING_SETTINGS = web.AppKey("messaging.settings", MessagingSettings)
