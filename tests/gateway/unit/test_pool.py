from __future__ import annotations

import pytest

from chore_common.errors import Unavailable
from chore_gateway.domain.breaker import BreakerPolicy
from chore_gateway.domain.pool import Health, NoUpstream, Pool


def pool(n: int = 3) -> Pool:
    return Pool("tasks", [f"http://h{i}/" for i in range(n)], BreakerPolicy(2, 5.0))


def test_round_robin_over_every_address() -> None:
    p = pool()
    picked = [p.pick(0).base for _ in range(6)]
    assert picked == ["http://h0", "http://h1", "http://h2"] * 2


def test_down_addresses_and_open_breakers_are_skipped() -> None:
    p = pool()
    p.addresses[1].health = Health.DOWN
    p.addresses[2].breaker.failure(0)
    p.addresses[2].breaker.failure(0)
    assert {p.pick(1).base for _ in range(4)} == {"http://h0"}


def test_exclude_is_for_the_retry() -> None:
    p = pool(2)
    first = p.pick(0)
    assert p.pick(0, exclude=first) is not first
    single = pool(1)
    with pytest.raises(NoUpstream):
        single.pick(0, exclude=single.addresses[0])


def test_all_down_is_unavailable_with_retry_after() -> None:
    p = pool(2)
    for a in p.addresses:
        a.health = Health.DOWN
    with pytest.raises(Unavailable) as caught:
        p.pick(0)
    assert caught.value.code == "upstream_unavailable"
    assert caught.value.retry_after == 1


def test_all_breakers_open_says_when_the_first_probe_may_go() -> None:
    p = pool(2)
    for a in p.addresses:
        a.breaker.failure(0)
        a.breaker.failure(0)
    with pytest.raises(NoUpstream) as caught:
        p.pick(1.2)
    assert caught.value.code == "circuit_open"
    assert caught.value.retry_after == 4  # 3.8 s left, rounded up
    assert p.pick(5.0) is p.addresses[0]  # the probe


def test_ready_only_when_an_address_is_known_up() -> None:
    p = pool(2)
    assert not p.is_ready()  # not checked yet
    p.addresses[0].health = Health.DOWN
    p.addresses[1].health = Health.UP
    assert p.is_ready()
    p.addresses[1].health = Health.DOWN
    assert not p.is_ready()


def test_a_pool_needs_an_address() -> None:
    with pytest.raises(ValueError, match="no address"):
        Pool("tasks", [], BreakerPolicy())
