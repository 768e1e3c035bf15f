"""Active health checks: every address's health path, every `interval`, in the background.

A 200 marks the address up, anything else (or no answer in time) down. Passive checks live
in the proxy: a connection that cannot be made marks the address down at once, and only a
passing check here brings it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp

from chore_gateway.adapters import metrics
from chore_gateway.domain.pool import Address, Health, Pool

log = logging.getLogger(__name__)


class HealthChecker:
    def __init__(
        self,
        pools: dict[str, Pool],
        session: aiohttp.ClientSession,
        *,
        path: str,
        interval_s: float,
        timeout_s: float,
    ) -> None:
        self.pools = pools
        self.session = session
        self.path = path
        self.interval_s = interval_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.checked = asyncio.Event()  # set after the first round

    async def run(self) -> None:
        while True:
            await self.check_all()
            self.checked.set()
            await asyncio.sleep(self.interval_s)

    async def check_all(self) -> None:
        addresses = [a for pool in self.pools.values() for a in pool.addresses]
        await asyncio.gather(*(self.check(a) for a in addresses))

    async def check(self, address: Address) -> None:
        reason = ""
        try:
            async with self.session.get(
                address.base + self.path, timeout=self.timeout, allow_redirects=False
            ) as response:
                await response.read()
                healthy = response.status == 200
                reason = f"status {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            healthy, reason = False, type(exc).__name__
        state = Health.UP if healthy else Health.DOWN
        if state is address.health:
            return
        address.health = state
        metrics.publish_health(address)
        if state is Health.UP:
            log.info(
                "gateway.upstream_up",
                extra={"upstream": address.base, "service": address.service},
            )
        else:
            log.warning(
                "gateway.upstream_down",
                extra={"upstream": address.base, "service": address.service, "reason": reason},
            )

    async def stop(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
