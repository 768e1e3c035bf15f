"""Typed app keys of the gateway."""

from __future__ import annotations

from aiohttp import web

from chore_gateway.proxy import Proxy

PROXY = web.AppKey("gateway.proxy", Proxy)
# Where /metrics listens, once it does (metrics_port.py): the URL to scrape.
METRICS_URL = web.AppKey("gateway.metrics_url", str)
