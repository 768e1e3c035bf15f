"""Typed `web.AppKey`s shared by every service (one module, no string keys scattered)."""

from __future__ import annotations

from aiohttp import web

from chore_common.readiness import Readiness
from chore_common.settings import ServiceSettings

SETTINGS = web.AppKey("chore.settings", ServiceSettings)
READINESS = web.AppKey("chore.readiness", Readiness)
