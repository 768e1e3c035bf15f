"""The platform export's parts: each routed service's `GET /<service>/me/export`, called
with the caller's own token (api/export.py assembles them; docs/gateway.md).

The calls go through the proxy's pooled session to an address its pool would pick (health
and breaker respected), without the proxy's retry: an export is cheap to ask for again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import aiohttp

from chore_common.errors import Unavailable
from chore_gateway.domain.pool import Pool
from chore_gateway.keys import ExportPart

# What a part's request carries of the client's: who asks, and how they want it said.
FORWARDED = ("Authorization", "Accept-Language", "X-Request-ID")


class ServiceExports:
    """Fetches one service's part; the session is the proxy's, set when the app starts."""

    def __init__(self, pools: Mapping[str, Pool], *, timeout_s: float) -> None:
        self.pools = pools
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.session: aiohttp.ClientSession | None = None

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(self.pools)

    async def fetch(self, service: str, headers: Mapping[str, str]) -> ExportPart:
        """The service's answer as it gave it (uncompressed: no Accept-Encoding is sent);
        Unavailable when none came in time."""
        assert self.session is not None
        sent = {name: headers[name] for name in FORWARDED if name in headers}
        try:
            address = self.pools[service].pick(time.monotonic())
            async with self.session.get(
                f"{address.base}/{service}/me/export", headers=sent, timeout=self.timeout
            ) as response:
                body = await response.read()
                return ExportPart(
                    status=response.status,
                    body=body,
                    content_type=response.headers.get("Content-Type", "application/json"),
                )
        except (aiohttp.ClientError, TimeoutError, Unavailable):
            # Unavailable: the pool has no address to ask (all down, or breakers open).
            raise Unavailable(
                f"The {service} service did not answer; an export without it would read"
                " as complete, so there is none. Try again.",
                code="export_incomplete",
            ) from None
