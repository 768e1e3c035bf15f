"""Login throttling: after `max_failures` within `window`, a key is locked until it ends.

The rule for login (docs/auth.md, "Failed logins"; OWASP ASVS 5.0 V6.1.1 and V6.3.1):
three counters, every one keyed on the client's address as the edge decided it,

- the address, over every account: spraying many accounts from one address stops;
- the account from this address: guessing one password from one address stops;
- the account from every address: once it reaches the limit the account is under attack,
  and an address that has already failed on it waits out the window. An address that has
  not gets its password checked, so failures from other addresses alone never keep the
  owner out: only they slow down, to one guess per address.

Unknown emails count like known ones, so the lock itself never tells whether an account
exists.

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


@dataclass(frozen=True)
class LoginThrottle:
    per_address: ThrottlePolicy  # one address, every account
    per_account: ThrottlePolicy  # one account: from one address, and the attack threshold


@dataclass(frozen=True)
class LoginCounts:
    """One login attempt's three counters, this attempt counted in each."""

    address: Failures
    account_at_address: Failures
    account: Failures


def admit_login(counts: LoginCounts, policy: LoginThrottle, *, now: datetime) -> None:
    """Refuse a login attempt the rule in the module docstring does not let through."""
    admit(counts.address, policy.per_address, now=now)
    admit(counts.account_at_address, policy.per_account, now=now)
    before = Failures(counts.account.key, counts.account.count - 1, counts.account.window_start)
    failed_here_before = counts.account_at_address.count > 1
    under_attack = retry_after(before, policy.per_account, now=now) > 0
    if under_attack and failed_here_before:
        # Either window ending lets this address try again.
        here = _window_end(counts.account_at_address, policy.per_account)
        wait = min(here, _window_end(before, policy.per_account)) - now
        raise RateLimited(
            "Too many failed logins; try again later.",
            retry_after=max(1, math.ceil(wait.total_seconds())),
            code="too_many_attempts",
        )


def _window_end(failures: Failures, policy: ThrottlePolicy) -> datetime:
    return failures.window_start + policy.window


def record_failure(
    failures: Failures | None, key: str, policy: ThrottlePolicy, *, now: datetime
) -> Failures:
    if failures is None or now >= failures.window_start + policy.window:
        return Failures(key, 1, now)
    return Failures(key, failures.count + 1, failures.window_start)
