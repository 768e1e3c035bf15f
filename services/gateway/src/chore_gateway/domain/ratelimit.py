"""Per-client token buckets: `rate` requests per second on average, bursts up to `burst`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimit:
    rate: float  # tokens added per second
    burst: float  # bucket size: requests allowed at once after a quiet spell

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")


class RateLimiter:
    """Token buckets keyed by client (IP), bounded in memory.

    A bucket idle long enough to have refilled is the same as no bucket, so when the table
    reaches `max_clients` those are dropped first; if every bucket is busy (a flood from many
    addresses), the oldest half goes: a forgotten client starts again with a full bucket,
    which errs on the side of serving.
    """

    __slots__ = ("_buckets", "_full_after", "burst", "max_clients", "rate")

    def __init__(self, limit: RateLimit, max_clients: int = 100_000) -> None:
        self.rate = limit.rate
        self.burst = limit.burst
        self.max_clients = max_clients
        self._full_after = limit.burst / limit.rate  # seconds for an empty bucket to refill
        # key -> [tokens, last update]; a list is cheaper to update in place than a dataclass
        self._buckets: dict[str, list[float]] = {}

    def take(self, key: str, now: float) -> float:
        """Spend one token of `key`'s bucket: 0.0 when allowed, else seconds until one is."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._evict(now)
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

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
