"""Typed app keys of the gateway, and the ports they hold.

The gateway has no use cases, so what its api needs of the adapters is declared here: the
route table takes each pool's handler from the `Proxy` port (adapters/proxy.py) and `/docs`
reads the services' documents through `DocumentSource` (adapters/documents.py).
bootstrap.py puts the adapters behind these keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Handler

from chore_gateway.domain.cors import CorsPolicy
from chore_gateway.domain.pool import Pool


class Proxy(Protocol):
    """The routed services' pools, the handler that proxies a request to one, and (with
    CORS on) the one that answers a preflight for it; the same rate limit and preflights
    for the gateway's own routes that cost the services work (`/me/export`)."""

    pools: dict[str, Pool]
    cors: CorsPolicy | None

    def handler(self, pool: Pool) -> Handler: ...

    def preflight(self, pool: Pool) -> Handler: ...

    def limited(self, handler: Handler) -> Handler: ...

    def preflight_or(self, other: Handler) -> Handler: ...


class DocumentSource(Protocol):
    async def fetch(self, pool: Pool) -> dict[str, Any] | None:
        """A service's OpenAPI document, from one of `pool`'s addresses; None if none
        serves it."""
        ...


class Mailbox(Protocol):
    """The local SMTP sink's mail (`make run` only): newest first, and one by its key."""

    async def listing(self) -> list[dict[str, str]]: ...

    async def message(self, key: str) -> dict[str, str] | None: ...


@dataclass(frozen=True, slots=True)
class ExportPart:
    """One service's answer to `GET /<service>/me/export`, as it gave it."""

    status: int
    body: bytes
    content_type: str


class Exports(Protocol):
    """Each routed service's part of the caller's export (adapters/exports.py)."""

    @property
    def services(self) -> tuple[str, ...]: ...

    async def fetch(self, service: str, headers: Mapping[str, str]) -> ExportPart: ...


PROXY: web.AppKey[Proxy] = web.AppKey("gateway.proxy")
DOCUMENTS: web.AppKey[DocumentSource] = web.AppKey("gateway.documents")
DEV_MAIL: web.AppKey[Mailbox] = web.AppKey("gateway.dev_mail")
EXPORTS: web.AppKey[Exports] = web.AppKey("gateway.exports")
# Where /metrics listens, once it does (adapters/metrics_port.py): the URL to scrape.
METRICS_URL = web.AppKey("gateway.metrics_url", str)
