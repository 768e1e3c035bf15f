"""The routed services' OpenAPI documents, fetched from their own `/openapi.json`."""

from __future__ import annotations

from typing import Any

import aiohttp

from chore_gateway.domain.pool import Health, Pool


class ServiceDocuments:
    """Reads a pool's document from its healthy addresses first (the session is the
    proxy's, set when the app starts)."""

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None

    async def fetch(self, pool: Pool) -> dict[str, Any] | None:
        """The document of the first address that serves one; None when none does."""
        assert self.session is not None
        ordered = sorted(pool.addresses, key=lambda a: a.health is not Health.UP)
        for address in ordered:
            try:
                async with self.session.get(
                    address.base + "/openapi.json", timeout=aiohttp.ClientTimeout(total=3)
                ) as response:
                    if response.status != 200:
                        continue
                    document: dict[str, Any] = await response.json()
            except (aiohttp.ClientError, TimeoutError, ValueError):
                continue
            return document
        return None
