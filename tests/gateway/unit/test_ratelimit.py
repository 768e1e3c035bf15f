from __future__ import annotations

import pytest

from chore_gateway.domain.ratelimit import RateLimit, RateLimiter, SharedRateLimiter


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


def test_fields_say_the_policy_and_what_is_left() -> None:
    limiter = RateLimiter(RateLimit(rate=100.0, burst=200))
    assert limiter.take("ip", 0.0) == 0.0
    policy, current = limiter.headers()
    assert policy == ("RateLimit-Policy", '"default";q=200;w=2')
    assert current == ("RateLimit", '"default";r=199;t=1')
    for _ in range(199):
        limiter.take("ip", 0.0)
    assert limiter.headers()[1] == ("RateLimit", '"default";r=0;t=2')
    assert limiter.take("ip", 0.0) > 0  # refused: still r=0, full again in 2 s
    assert limiter.headers()[1] == ("RateLimit", '"default";r=0;t=2')
    slow = RateLimiter(RateLimit(rate=0.5, burst=3))
    slow.take("ip", 0.0)
    assert slow.headers() == (
        ("RateLimit-Policy", '"default";q=3;w=6'),
        ("RateLimit", '"default";r=2;t=2'),
    )


def test_shared_buckets_debit_what_other_processes_admitted() -> None:
    woken: list[int] = []
    a = SharedRateLimiter(RateLimit(rate=1.0, burst=10), wake=lambda: woken.append(1))
    b = SharedRateLimiter(RateLimit(rate=1.0, burst=10))
    b.heard("a", 0.0)
    a.heard("b", 0.0)
    assert a.processes == 2
    assert a.share == 5
    for _ in range(4):
        assert a.take("ip", 0.0) == 0.0
    assert not woken
    assert a.take("ip", 0.0) == 0.0
    assert woken == [1]  # its share of the burst spent: send the batch now
    b.apply("a", a.drain(), 0.0)
    assert a.drain() == {}
    # b's bucket holds what a left: 5 more between them, not 10.
    assert [b.take("ip", 0.0) for _ in range(5)] == [0.0] * 5
    assert b.take("ip", 0.0) > 0
    a.apply("b", b.drain(), 0.0)
    assert a.take("ip", 0.0) > 0


def test_debt_is_capped_and_silent_peers_are_forgotten() -> None:
    limiter = SharedRateLimiter(RateLimit(rate=1.0, burst=10), peer_ttl_s=3.0)
    limiter.apply("other", {"ip": 1_000_000}, 0.0)
    limiter.take("ip", 0.0)
    assert limiter.left == -10.0  # never more than a burst in debt
    assert limiter.take("ip", 21.0) == 0.0  # refilled in 2 bursts' time
    assert limiter.processes == 2
    limiter.expire(10.0)
    assert limiter.processes == 1
    assert limiter.share == 10
