"""Per-client token buckets: `rate` requests per second on average, bursts up to `burst`;
what the client is told about them (the IETF `RateLimit-Policy` / `RateLimit` fields); and
the buckets shared between gateway processes (`SharedRateLimiter`: the I/O is
adapters/ratelimit_sync.py's)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

POLICY_NAME: Final = "default"  # the policy's name in both fields (written out in headers())
_ceil = math.ceil


@dataclass(frozen=True, slots=True)
class RateLimit:
    rate: float  # tokens added per second
    burst: float  # bucket size: requests allowed at once after a quiet spell

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")

    @property
    def window_s(self) -> int:
        """The policy's window: the seconds an empty bucket takes to fill (at least 1)."""
        return max(1, math.ceil(self.burst / self.rate))

    @property
    def quota(self) -> int:
        """Requests per window on average: what a client pacing itself may send."""
        return max(1, round(self.rate * self.window_s))


class RateLimiter:
    """Token buckets keyed by client (IP), bounded in memory.

    A bucket idle long enough to have refilled is the same as no bucket, so when the table
    reaches `max_clients` those are dropped first; if every bucket is busy (a flood from many
    addresses), the oldest half goes: a forgotten client starts again with a full bucket,
    which errs on the side of serving.
    """

    __slots__ = ("_buckets", "_full_after", "burst", "left", "max_clients", "policy", "rate")

    def __init__(self, limit: RateLimit, max_clients: int = 100_000) -> None:
        self.rate = limit.rate
        self.burst = limit.burst
        self.max_clients = max_clients
        self._full_after = limit.burst / limit.rate  # seconds for an empty bucket to refill
        # key -> [tokens, last update]; a list is cheaper to update in place than a dataclass
        self._buckets: dict[str, list[float]] = {}
        self.left = limit.burst  # the tokens the last take() left in its bucket
        self.policy = ("RateLimit-Policy", f'"{POLICY_NAME}";q={limit.quota};w={limit.window_s}')

    def take(self, key: str, now: float) -> float:
        """Spend one token of `key`'s bucket: 0.0 when allowed, else seconds until one is.
        `left` then holds what the bucket has left (for the client's RateLimit field)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._evict(now)
            self._buckets[key] = [self.burst - 1.0, now]
            self.left = self.burst - 1.0
            return 0.0
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        bucket[1] = now
        if tokens >= 1.0:
            self.left = bucket[0] = tokens - 1.0
            return 0.0
        self.left = bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def headers(self) -> tuple[tuple[str, str], tuple[str, str]]:
        """`RateLimit-Policy` and `RateLimit` for the bucket the last take() spent from, as
        draft-ietf-httpapi-ratelimit-headers-10/-11 write them (structured-field lists):
        `"default";q=200;w=2` and `"default";r=42;t=1`.

        The bucket maps onto the draft's quota policy as `q` = requests per `w` seconds at
        the average rate, `w` = the time an empty bucket takes to fill; `r` is the whole
        tokens left and `t` the seconds until the bucket is full again (0 <= t <= w)."""
        left = self.left
        remaining = int(left) if left >= 1.0 else 0
        reset = _ceil((self.burst - left) / self.rate)
        return self.policy, ("RateLimit", f'"default";r={remaining};t={reset}')

    def debit(self, key: str, count: int, now: float) -> None:
        """`count` tokens of `key`'s bucket were spent elsewhere (another gateway). The debt
        is capped at one burst: a lost or repeated report cannot lock a client out for
        longer than an empty bucket takes to fill, twice."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._evict(now)
            self._buckets[key] = [max(self.burst - count, -self.burst), now]
            return
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        bucket[0] = max(tokens - count, -self.burst)
        bucket[1] = now

    def __len__(self) -> int:
        return len(self._buckets)

    def _evict(self, now: float) -> None:
        horizon = now - self._full_after
        idle = [k for k, (_, last) in self._buckets.items() if last <= horizon]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) >= self.max_clients:
            # dicts keep insertion order: the first keys are the longest-known clients
            for key in list(self._buckets)[: len(self._buckets) // 2 + 1]:
                del self._buckets[key]


class SharedRateLimiter(RateLimiter):
    """The buckets of one gateway process among several: each admits from its own buckets
    (no round trip per request) and counts what it admitted; the counts go to the other
    processes in batches (`drain`) and theirs come back as debits (`apply`). So every
    process's bucket for a client sees every process's spending, one batch late.

    To keep a burst from being spent once per process before the batches cross, a client's
    count reaching its share of the burst (burst / processes known) calls `wake`, and the
    adapter sends the batch at once rather than at its next interval.
    """

    __slots__ = ("_peers", "peer_ttl_s", "pending", "share", "wake")

    def __init__(
        self,
        limit: RateLimit,
        max_clients: int = 100_000,
        *,
        peer_ttl_s: float = 3.0,
        wake: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(limit, max_clients)
        self.pending: dict[str, int] = {}  # client -> admitted here since the last batch
        self.peer_ttl_s = peer_ttl_s
        self.wake = wake
        self._peers: dict[str, float] = {}  # other processes -> when last heard
        self.share = max(1, int(limit.burst))

    def take(self, key: str, now: float) -> float:
        wait = RateLimiter.take(self, key, now)
        if not wait:
            count = self.pending.get(key, 0) + 1
            self.pending[key] = count
            if count == self.share and self.wake is not None:
                self.wake()
        return wait

    def drain(self) -> dict[str, int]:
        """What was admitted here since the last call (the batch to send)."""
        batch, self.pending = self.pending, {}
        return batch

    def apply(self, peer: str, counts: Mapping[str, int], now: float) -> None:
        """Another process's batch: its admissions are debited from the buckets here."""
        self.heard(peer, now)
        for key, count in counts.items():
            if count > 0:
                self.debit(key, count, now)

    def heard(self, peer: str, now: float) -> None:
        if peer not in self._peers:
            self._peers[peer] = now
            self._reshare()
        else:
            self._peers[peer] = now

    def expire(self, now: float) -> None:
        """Forget processes not heard from for `peer_ttl_s` (stopped, or cut off)."""
        gone = [p for p, last in self._peers.items() if now - last > self.peer_ttl_s]
        for peer in gone:
            del self._peers[peer]
        if gone:
            self._reshare()

    @property
    def processes(self) -> int:
        """The gateway processes sharing the limit, this one included."""
        return 1 + len(self._peers)

    def _reshare(self) -> None:
        self.share = max(1, int(self.burst // self.processes))
