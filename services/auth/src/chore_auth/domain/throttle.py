"""Login throttling: after `max_failures` within `window`, a key is locked until it ends.

Keys are per account and per client IP, so guessing one account's password from many IPs
and spraying many accounts from one IP are both slowed. Unknown emails count like known
ones, so the lock itself never tells whether an account exists.

An attempt is counted *before* its password is checked and taken back when it succeeds:
counted after, a burst of concurrent guesses would all pass the check while the first ones
were still hashing, and get far more than `max_failures` tries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from chore_common.errors import RateLimited


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window: timedelta


@dataclass(frozen=True)
class Failures:
    key: str
    count: int
    window_start: datetime


def retry_after(failures: Failures | None, policy: ThrottlePolicy, *, now: datetime) -> int:
    """Seconds until `failures.key` may try again; 0 when it may try now."""
    if failures is None or failures.count < policy.max_failures:
        return 0
    left = (failures.window_start + policy.window - now).total_seconds()
    return max(0, math.ceil(left))


def check(failures: Failures | None, policy: ThrottlePolicy, *, now: datetime) -> None:
    wait = retry_after(failures, policy, now=now)
    if wait > 0:
        raise RateLimited(
            "Too many failed logins; try again later.", retry_after=wait, code="too_many_attempts"
        )


def admit(counted: Failures, policy: ThrottlePolicy, *, now: datetime) -> None:
    """Refuse an attempt whose count (this attempt included) goes over the limit."""
    check(Failures(counted.key, counted.count - 1, counted.window_start), policy, now=now)


def record_failure(
    failures: Failures | None, key: str, policy: ThrottlePolicy, *, now: datetime
) -> Failures:
    if failures is None or now >= failures.window_start + policy.window:
        return Failures(key, 1, now)
    return Failures(key, failures.count + 1, failures.window_start)
