"""Upstream pools: the addresses of one service's replicas and which may take a request.

An address is `UP` or `DOWN` as the health checks (and connection failures) last said, or
`UNKNOWN` before the first check. Requests go round robin over the addresses that are not
down and whose breaker lets them through; readiness counts only addresses known `UP`.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from chore_common.errors import Unavailable
from chore_gateway.domain.breaker import BreakerPolicy, BreakerState, CircuitBreaker


class Health(StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


class Address:
    __slots__ = ("base", "breaker", "health", "service")

    def __init__(self, service: str, base: str, breaker: CircuitBreaker) -> None:
        self.service = service
        self.base = base.rstrip("/")
        self.breaker = breaker
        self.health = Health.UNKNOWN

    def __repr__(self) -> str:
        return f"Address({self.base!r}, {self.health}, {self.breaker.state})"


class NoUpstream(Unavailable):
    """No address of the pool may take a request now (503 + Retry-After)."""

    code = "upstream_unavailable"


class Pool:
    """One service's addresses, picked round robin."""

    __slots__ = ("_next", "addresses", "name")

    def __init__(self, name: str, bases: Sequence[str], policy: BreakerPolicy) -> None:
        if not bases:
            raise ValueError(f"pool {name!r} has no address")
        self.name = name
        self.addresses = [Address(name, base, CircuitBreaker(policy)) for base in bases]
        self._next = 0

    def pick(self, now: float, exclude: Address | None = None) -> Address:
        """The next address that may take a request, or NoUpstream saying when to retry.

        An address whose breaker is half-open is handed out once, as its probe.
        """
        addresses = self.addresses
        n = len(addresses)
        start = self._next
        # Nearly always: the next address is up and its breaker closed (allow() is then
        # True with nothing to record), so it is taken without the loop.
        address = addresses[start]
        if (
            address.breaker.state is BreakerState.CLOSED
            and address.health is not Health.DOWN
            and address is not exclude
        ):
            self._next = start + 1 if start + 1 < n else 0
            return address
        for i in range(n):
            address = addresses[(start + i) % n]
            if (
                address is not exclude
                and address.health is not Health.DOWN
                and address.breaker.allow(now)
            ):
                self._next = (start + i + 1) % n
                return address
        raise self._refusal(now, exclude)

    def is_ready(self) -> bool:
        return any(a.health is Health.UP for a in self.addresses)

    def _refusal(self, now: float, exclude: Address | None) -> NoUpstream:
        others = [a for a in self.addresses if a is not exclude]
        healthy = [a for a in others if a.health is not Health.DOWN]
        if not healthy:
            return NoUpstream(
                f"No healthy {self.name} upstream: every address failed its health check.",
                retry_after=1,
            )
        wait = min(a.breaker.retry_after(now) for a in healthy)
        open_ = sum(a.breaker.state is not BreakerState.CLOSED for a in healthy)
        return NoUpstream(
            f"The {self.name} service is failing: {open_} of {len(healthy)} healthy"
            " upstream(s) have an open circuit breaker.",
            retry_after=max(1, round(wait + 0.499)),  # whole seconds, never 0
            code="circuit_open",
        )
