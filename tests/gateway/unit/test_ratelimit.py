from __future__ import annotations

import pytest

from chore_gateway.domain.ratelimit import RateLimit, RateLimiter


def test_a_burst_then_refusals_that_say_how_long_to_wait() -> None:
    limiter = RateLimiter(RateLimit(rate=2.0, burst=3))
    assert [limiter.take("ip", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("ip", 0.0) == pytest.approx(0.5)
    assert limiter.take("ip", 0.25) == pytest.approx(0.25)  # half a token came back
    assert limiter.take("ip", 0.5) == 0.0  # a whole one now


def test_buckets_refill_up_to_the_burst_only() -> None:
    limiter = RateLimiter(RateLimit(rate=1.0, burst=2))
    limiter.take("ip", 0.0)
    limiter.take("ip", 0.0)
    # A long quiet spell refills to 2, not to 1000.
    assert [limiter.take("ip", 1000.0) for _ in range(2)] == [0.0, 0.0]
    assert limiter.take("ip", 1000.0) > 0


def test_clients_have_their_own_buckets() -> None:
    limiter = RateLimiter(RateLimit(rate=1.0, burst=1))
    assert limiter.take("a", 0.0) == 0.0
    assert limiter.take("a", 0.0) > 0
    assert limiter.take("b", 0.0) == 0.0


def test_memory_is_bounded_and_idle_buckets_go_first() -> None:
    limiter = RateLimiter(RateLimit(rate=1.0, burst=5), max_clients=100)
    limiter.take("busy", 100.0)
    for i in range(99):
        limiter.take(f"idle{i}", 0.0)
    assert len(limiter) == 100
    limiter.take("new", 100.0)  # the idle ones (full again by now) are dropped
    assert len(limiter) == 2
    # Every bucket busy: the oldest half goes, the table stays bounded.
    for i in range(500):
        limiter.take(f"flood{i}", 100.0)
    assert len(limiter) <= 100


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimit(rate=0, burst=1)
