"""The flood guard and in-order release, with time passed in."""

from __future__ import annotations

import random

from chore_messaging.domain.limits import FloodGuard, InOrder, Verdict


def test_a_burst_is_allowed_then_frames_are_refused() -> None:
    guard = FloodGuard(rate=10, burst=3, max_strikes=100)
    assert [guard.check(0.0) for _ in range(4)] == [Verdict.ALLOW] * 3 + [Verdict.REJECT]


def test_tokens_come_back_at_the_rate() -> None:
    guard = FloodGuard(rate=10, burst=1, max_strikes=100)
    assert guard.check(0.0) is Verdict.ALLOW
    assert guard.check(0.05) is Verdict.REJECT
    assert guard.check(0.2) is Verdict.ALLOW  # 0.15 s at 10/s refilled one token


def test_a_client_that_keeps_flooding_is_closed() -> None:
    guard = FloodGuard(rate=1, burst=1, max_strikes=5)
    verdicts = [guard.check(0.0) for _ in range(7)]
    assert verdicts[0] is Verdict.ALLOW
    assert verdicts[1:5] == [Verdict.REJECT] * 4
    assert verdicts[5] is Verdict.CLOSE


def test_strikes_fade_for_a_client_that_slows_down() -> None:
    guard = FloodGuard(rate=10, burst=1, max_strikes=5)
    now = 0.0
    for _ in range(100):  # twice the rate, forever: about half refused, never closed
        verdict = guard.check(now)
        assert verdict is not Verdict.CLOSE
        now += 0.05


def test_in_order_releases_by_seq_whatever_the_arrival_order() -> None:
    order: InOrder[str] = InOrder()
    assert order.accept(2, "b") == []
    assert order.gap == (0, 2)
    assert order.accept(1, "a") == [(1, "a"), (2, "b")]
    assert order.gap is None
    assert order.accept(2, "b again") == []  # a repeat
    assert order.accept(1, "a again") == []
    assert order.delivered == 2


def test_in_order_starts_after_a_baseline() -> None:
    order: InOrder[int] = InOrder(delivered=10)
    assert order.accept(9, 9) == []
    assert order.accept(11, 11) == [(11, 11)]


def test_in_order_shuffled_stream() -> None:
    seqs = list(range(1, 501)) * 2  # every seq twice
    random.Random(7).shuffle(seqs)
    order: InOrder[int] = InOrder()
    released = [s for seq in seqs for s, _ in order.accept(seq, seq)]
    assert released == list(range(1, 501))
    assert order.held == {}
