"""Per-socket flow rules, pure: a token bucket for what a client sends, the in-order
release of what a conversation delivers, and the close codes that end a socket.

Time comes in as a number (monotonic seconds), so the rules are tested without a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Final, Generic, TypeVar

T = TypeVar("T")

# Close codes the server ends a socket with (docs/messaging.md has the table).
CLOSE_IDLE: Final = 1000
CLOSE_RATE: Final = 1008
CLOSE_TOO_BIG: Final = 1009
CLOSE_INTERNAL: Final = 1011
CLOSE_RESTART: Final = 1012
CLOSE_SLOW: Final = 1013
CLOSE_FULL: Final = 1013  # "try again later": the replica holds its cap of sockets
CLOSE_AUTH: Final = 4401
CLOSE_TOO_MANY: Final = 4429  # as HTTP 429: the user's cap of open sockets is reached


class Verdict(Enum):
    ALLOW = "allow"
    REJECT = "reject"  # answer with an error frame, keep the socket
    CLOSE = "close"  # flooding on after rejections: close the socket (1008)


@dataclass(slots=True)
class FloodGuard:
    """A token bucket (`rate` frames/s, bursts up to `burst`) plus a strike count.

    A frame over the rate is rejected and adds a strike; strikes drain at `rate` per
    second too, so a client that slows down after a burst keeps its socket, and one that
    keeps flooding reaches `max_strikes` and is closed.
    """

    rate: float
    burst: float
    max_strikes: float
    tokens: float = -1.0
    strikes: float = 0.0
    at: float = 0.0

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def check(self, now: float) -> Verdict:
        elapsed = max(0.0, now - self.at)
        self.at = now
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.strikes = max(0.0, self.strikes - elapsed * self.rate)
        if self.tokens >= 1.0 - 1e-9:  # float refills land a hair under 1
            self.tokens -= 1.0
            return Verdict.ALLOW
        self.strikes += 1.0
        return Verdict.CLOSE if self.strikes >= self.max_strikes else Verdict.REJECT


@dataclass(slots=True)
class InOrder(Generic[T]):
    """Releases items by `seq` with no gap and no repeat, whatever order they arrive in.

    `delivered` is the last seq released. An item at or below it is a repeat and dropped;
    one above `delivered + 1` waits in `held` until the gap before it fills (or the caller
    fetches the missing ones and `accept`s them).
    """

    delivered: int = 0
    held: dict[int, T] = field(default_factory=dict)

    def accept(self, seq: int, item: T) -> list[tuple[int, T]]:
        if seq <= self.delivered or seq in self.held:
            return []
        self.held[seq] = item
        out: list[tuple[int, T]] = []
        nxt = self.delivered + 1
        while nxt in self.held:
            out.append((nxt, self.held.pop(nxt)))
            nxt += 1
        self.delivered = nxt - 1
        return out

    @property
    def gap(self) -> tuple[int, int] | None:
        """The seqs missing before the first held item, `(after, before)`, if any."""
        if not self.held:
            return None
        return self.delivered, min(self.held)
