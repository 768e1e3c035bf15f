from __future__ import annotations

from chore_gateway.domain.breaker import BreakerPolicy, BreakerState, CircuitBreaker


def breaker(failures: int = 3, open_s: float = 10.0) -> CircuitBreaker:
    return CircuitBreaker(BreakerPolicy(failure_threshold=failures, open_s=open_s))


def test_opens_after_failures_in_a_row_only() -> None:
    b = breaker()
    b.failure(0)
    b.failure(0)
    b.success()  # the run is broken
    b.failure(0)
    b.failure(0)
    assert b.state is BreakerState.CLOSED
    b.failure(1)
    assert b.state is BreakerState.OPEN
    assert not b.allow(5)
    assert b.retry_after(5) == 6


def test_half_open_lets_one_probe_and_its_success_closes() -> None:
    b = breaker(failures=1)
    b.failure(0)
    assert b.allow(10)  # the probe
    assert b.state is BreakerState.HALF_OPEN
    assert not b.allow(10)  # everyone else waits for its verdict
    assert b.retry_after(10) > 0
    b.success()
    assert b.state is BreakerState.CLOSED
    assert all(b.allow(10) for _ in range(5))


def test_a_failed_probe_opens_again_for_a_full_period() -> None:
    b = breaker(failures=2)
    b.failure(0)
    b.failure(0)
    assert b.allow(10)
    b.failure(10)  # one failure is enough in half-open
    assert b.state is BreakerState.OPEN
    assert not b.allow(19)
    assert b.allow(20)


def test_a_probe_without_verdict_frees_the_slot() -> None:
    b = breaker(failures=1)
    b.failure(0)
    assert b.allow(10)
    b.release()
    assert b.allow(10)
