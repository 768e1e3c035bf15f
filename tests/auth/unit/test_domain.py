"""Pure domain rules: refresh verdicts, revocation, throttling, sign-up rules."""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chore_auth.domain import accounts, sessions, throttle
from chore_auth.domain.errors import InvalidEmail, InvalidRole, WeakPassword
from chore_auth.domain.events import RevokeReason, SessionRevoked, UserRegistered
from chore_auth.domain.model import Role
from chore_auth.domain.sessions import RefreshVerdict, SessionPolicy
from chore_common.errors import RateLimited

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = SessionPolicy(reuse_grace=timedelta(seconds=10))


def make_user(role: Role = Role.CLIENT) -> accounts.User:
    user, _ = accounts.new_user(
        user_id=uuid.uuid4(),
        email="Pat@Example.com ",
        name=" Pat ",
        role=role,
        password_hash="$argon2id$...",
        now=NOW,
        operator=role is Role.ADMIN,
    )
    return user


def session_and_token() -> tuple[sessions.Session, sessions.RefreshToken]:
    session = sessions.open_session(make_user(), session_id=uuid.uuid4(), now=NOW, policy=POLICY)
    token = sessions.issue_refresh(
        session, token_id=uuid.uuid4(), token_hash="h", now=NOW, policy=POLICY
    )
    return session, token


def test_an_unused_refresh_token_rotates() -> None:
    session, token = session_and_token()
    assert sessions.judge_refresh(token, session, now=NOW, policy=POLICY) is RefreshVerdict.ROTATE


def test_a_used_token_within_the_grace_is_a_retry_not_a_theft() -> None:
    session, token = session_and_token()
    used = replace(token, used_at=NOW)
    later = NOW + timedelta(seconds=10)
    assert sessions.judge_refresh(used, session, now=later, policy=POLICY) is (
        RefreshVerdict.GRACE_RETRY
    )


def test_a_used_token_after_the_grace_is_reuse() -> None:
    session, token = session_and_token()
    used = replace(token, used_at=NOW)
    later = NOW + timedelta(seconds=11)
    assert sessions.judge_refresh(used, session, now=later, policy=POLICY) is RefreshVerdict.REUSE


def test_an_expired_token_or_an_ended_session_is_dead_not_reuse() -> None:
    session, token = session_and_token()
    expired = NOW + POLICY.refresh_ttl
    assert sessions.judge_refresh(token, session, now=expired, policy=POLICY) is (
        RefreshVerdict.DEAD
    )
    revoked, _ = sessions.revoke(session, RevokeReason.LOGOUT, now=NOW)
    used = replace(token, used_at=NOW - timedelta(hours=1))
    assert sessions.judge_refresh(used, revoked, now=NOW, policy=POLICY) is RefreshVerdict.DEAD


def test_revoking_announces_once() -> None:
    session, _ = session_and_token()
    revoked, event = sessions.revoke(session, RevokeReason.REFRESH_REUSE, now=NOW)
    assert event == SessionRevoked(session.id, session.user_id, RevokeReason.REFRESH_REUSE, NOW)
    assert not revoked.active(NOW)
    again, second = sessions.revoke(revoked, RevokeReason.LOGOUT, now=NOW + timedelta(1))
    assert second is None
    assert again.revoke_reason == "refresh_reuse"


def test_a_refresh_keeps_the_session_alive_as_long_as_its_newest_token() -> None:
    session, _ = session_and_token()
    later = NOW + timedelta(days=20)
    touched = sessions.touch(session, now=later, policy=POLICY)
    assert touched.expires_at == later + POLICY.refresh_ttl
    assert touched.last_used_at == later


def test_access_claims_last_the_access_ttl() -> None:
    user = make_user(Role.TASKER)
    session, _ = session_and_token()
    claims = sessions.access_claims(user, session, jti=uuid.uuid4(), now=NOW, policy=POLICY)
    assert claims.exp - claims.iat == timedelta(minutes=15)
    assert (claims.sub, claims.sid, claims.role) == (user.id, session.id, Role.TASKER)


WINDOW = throttle.ThrottlePolicy(max_failures=3, window=timedelta(minutes=15))


def test_failures_below_the_limit_do_not_lock() -> None:
    failures = None
    for _ in range(2):
        failures = throttle.record_failure(failures, "k", WINDOW, now=NOW)
    throttle.check(failures, WINDOW, now=NOW)


def test_the_limit_locks_until_the_window_ends() -> None:
    failures = None
    for _ in range(3):
        failures = throttle.record_failure(failures, "k", WINDOW, now=NOW)
    with pytest.raises(RateLimited) as caught:
        throttle.check(failures, WINDOW, now=NOW + timedelta(minutes=5))
    assert caught.value.retry_after == 600
    throttle.check(failures, WINDOW, now=NOW + timedelta(minutes=15))


def test_a_failure_after_the_window_starts_a_new_count() -> None:
    failures = throttle.Failures("k", 3, NOW)
    later = NOW + timedelta(minutes=16)
    assert throttle.record_failure(failures, "k", WINDOW, now=later) == throttle.Failures(
        "k", 1, later
    )


def test_sign_up_normalizes_the_email_and_announces_the_user() -> None:
    user, event = accounts.new_user(
        user_id=uuid.uuid4(),
        email="  Pat@Example.COM",
        name=" Pat ",
        role=Role.CLIENT,
        password_hash="h",
        now=NOW,
    )
    assert (user.email, user.name) == ("pat@example.com", "Pat")
    assert event == UserRegistered(user.id, user.email, "Pat", Role.CLIENT, NOW)


@pytest.mark.parametrize(("length", "ok"), [(9, False), (10, True), (128, True), (129, False)])
def test_passwords_are_10_to_128_characters(length: int, ok: bool) -> None:
    if ok:
        accounts.check_password_rules("x" * length)
    else:
        with pytest.raises(WeakPassword):
            accounts.check_password_rules("x" * length)


def test_only_an_operator_creates_admins() -> None:
    with pytest.raises(InvalidRole):
        accounts.new_user(
            user_id=uuid.uuid4(),
            email="a@b.co",
            name="A",
            role=Role.ADMIN,
            password_hash="h",
            now=NOW,
        )
    assert make_user(Role.ADMIN).role is Role.ADMIN


def test_an_attempt_is_admitted_up_to_the_limit_counting_itself() -> None:
    for count in (1, 2, 3):
        throttle.admit(throttle.Failures("k", count, NOW), WINDOW, now=NOW)
    with pytest.raises(RateLimited):
        throttle.admit(throttle.Failures("k", 4, NOW), WINDOW, now=NOW)


LOGIN = throttle.LoginThrottle(
    per_address=throttle.ThrottlePolicy(max_failures=10, window=timedelta(minutes=15)),
    per_account=WINDOW,
)


def counts(address: int, account_at_address: int, account: int) -> throttle.LoginCounts:
    return throttle.LoginCounts(
        throttle.Failures("ip", address, NOW),
        throttle.Failures("pair", account_at_address, NOW),
        throttle.Failures("account", account, NOW - timedelta(minutes=10)),
    )


def test_a_login_from_a_clean_address_is_admitted_however_attacked_the_account_is() -> None:
    throttle.admit_login(counts(1, 1, 1000), LOGIN, now=NOW)


def test_an_address_over_its_limit_waits_its_window() -> None:
    with pytest.raises(RateLimited) as caught:
        throttle.admit_login(counts(11, 1, 1), LOGIN, now=NOW)
    assert caught.value.retry_after == 900


def test_an_address_that_failed_on_an_attacked_account_waits_for_either_window() -> None:
    throttle.admit_login(counts(2, 2, 3), LOGIN, now=NOW)  # 2 failures before: not attacked
    with pytest.raises(RateLimited) as caught:
        throttle.admit_login(counts(2, 2, 4), LOGIN, now=NOW)
    assert caught.value.retry_after == 300  # the account's window started 10 min ago


@pytest.mark.parametrize(
    "typed",
    [
        "José@Example.com",
        "Jose\u0301@Example.com",
        "jo\u200bsé@example.com",
        "\ufeffjosé@example.com\u200e",
        "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in "josé@example.com"),
        "  josé@EXAMPLE.com ",
    ],
)
def test_every_spelling_of_an_address_normalizes_to_one(typed: str) -> None:
    normal = accounts.normalize_email(typed)
    assert normal == unicodedata.normalize("NFC", "josé@example.com")
    assert accounts.normalize_email(normal) == normal


@pytest.mark.parametrize("bad", ["@example.com", "pat@example", "pat@@example.com", "pa t@x.co"])
def test_a_normalized_address_must_still_look_like_one(bad: str) -> None:
    with pytest.raises(InvalidEmail):
        accounts.check_email(bad)
