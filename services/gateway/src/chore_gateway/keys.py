"""Typed app keys of the gateway."""

from __future__ import annotations

from aiohttp import web

from chore_gateway.proxy import Proxy

PROXY = web.AppKey("gateway.proxy", Proxy)
