"""A circuit breaker per upstream address: closed -> open -> half-open -> closed.

- closed: requests pass; `failure_threshold` failures in a row open it.
- open: requests are refused at once (the caller answers 503 + Retry-After) for `open_s`.
- half-open: exactly one request (the probe) passes; its success closes the breaker, its
  failure opens it again for another `open_s`. Others are refused while the probe is out.

Only the upstream's own failures count (the proxy decides which calls those are): no
connection, no answer within the deadline that starts once the request body is in, or an
answer in FAILURE_STATUSES. A client that hangs up or uploads slowly counts for nothing,
nor does a 500: that is one request's bug, and a client that can trigger it must not be
able to open the breaker for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

# What a service answers when a dependency failed it (problem+json `database_unavailable`,
# `database_busy`, `unavailable`: 503) or what a proxy in front of it would (502, 504).
FAILURE_STATUSES: Final = frozenset({502, 503, 504})


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failure_threshold: int = 5
    open_s: float = 5.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.open_s <= 0:
            raise ValueError("failure_threshold must be >= 1 and open_s > 0")


class CircuitBreaker:
    __slots__ = ("_opened_at", "_probing", "failures", "policy", "state")

    def __init__(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self.state = BreakerState.CLOSED
        self.failures = 0
        self._opened_at = 0.0
        self._probing = False

    def allow(self, now: float) -> bool:
        """May a request go now? In half-open, True once: the caller's request is the probe."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if now - self._opened_at < self.policy.open_s:
                return False
            self.state = BreakerState.HALF_OPEN
            self._probing = False
        if self._probing:
            return False
        self._probing = True
        return True

    def retry_after(self, now: float) -> float:
        """Seconds until a request may pass again (0 when it may now)."""
        if self.state is BreakerState.OPEN:
            return max(0.0, self.policy.open_s - (now - self._opened_at))
        if self.state is BreakerState.HALF_OPEN and self._probing:
            return self.policy.open_s  # the probe's answer decides; it may take that long
        return 0.0

    def success(self) -> None:
        self.state = BreakerState.CLOSED
        self.failures = 0
        self._probing = False

    def failure(self, now: float) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self._open(now)
            return
        self.failures += 1
        if self.state is BreakerState.CLOSED and self.failures >= self.policy.failure_threshold:
            self._open(now)

    def release(self) -> None:
        """The request allowed as a probe ended with no verdict (e.g. the client left)."""
        self._probing = False

    def _open(self, now: float) -> None:
        self.state = BreakerState.OPEN
        self._opened_at = now
        self.failures = 0
        self._probing = False
