"""Pure rules of issue 25: profile edits, single-use tokens, status moves, erasure."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chore_auth.domain import account_tokens, accounts, moderation, profiles
from chore_auth.domain.account_tokens import Purpose
from chore_auth.domain.errors import (
    AccountBanned,
    AccountSuspended,
    InvalidAccountToken,
    InvalidProfile,
    InvalidStatusMove,
)
from chore_auth.domain.events import ContactChanged, ProfileUpdated
from chore_auth.domain.model import AccountStatus, Role, User
from chore_auth.domain.moderation import Move
from chore_auth.domain.profiles import ProfileChanges

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
A, S, B = AccountStatus.ACTIVE, AccountStatus.SUSPENDED, AccountStatus.BANNED


def user(**changes: object) -> User:
    made, _ = accounts.new_user(
        user_id=uuid.uuid4(),
        email="pat@example.com",
        name="Pat",
        role=Role.TASKER,
        password_hash="$argon2id$x",
        now=NOW,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        (ProfileChanges(bio="x" * 1001), "invalid_profile"),
        (ProfileChanges(name="  "), "invalid_profile"),
        (ProfileChanges(city="c" * 101), "invalid_profile"),
        (ProfileChanges(skills=("plumbing", "juggling")), "unknown_skill"),
        (ProfileChanges(avatar_url="http://a.example/x.png"), "invalid_avatar_url"),
        (ProfileChanges(avatar_url="https:///nohost"), "invalid_avatar_url"),
        (ProfileChanges(avatar_url="ftp://a.example/x.png"), "invalid_avatar_url"),
    ],
)
def test_profile_rules_refuse(changes: ProfileChanges, code: str) -> None:
    with pytest.raises(InvalidProfile) as caught:
        profiles.update_profile(user(), changes, now=NOW)
    assert caught.value.code == code


def test_a_profile_edit_announces_what_changed_and_nothing_when_nothing_did() -> None:
    before = user()
    after, events = profiles.update_profile(
        before, ProfileChanges(city="Lyon", skills=("plumbing", "cleaning")), now=NOW
    )
    assert after.skills == ("cleaning", "plumbing")
    assert [type(e) for e in events] == [ProfileUpdated]
    renamed, events = profiles.update_profile(after, ProfileChanges(name="Sam"), now=NOW)
    assert [type(e) for e in events] == [ProfileUpdated, ContactChanged]
    same, events = profiles.update_profile(renamed, ProfileChanges(city="Lyon"), now=NOW)
    assert (same, events) == (renamed, [])
    cleared, _ = profiles.update_profile(
        replace(same, avatar_url="https://a.example/x.png"),
        ProfileChanges(clear_avatar=True),
        now=NOW,
    )
    assert cleared.avatar_url is None


def _token(owner: User, purpose: Purpose = Purpose.PASSWORD_RESET) -> account_tokens.AccountToken:
    return account_tokens.issue(owner, purpose, token_id=uuid.uuid4(), token_hash="h", now=NOW)


def test_a_reset_token_lives_30_minutes_and_a_verification_48_hours() -> None:
    owner = user()
    assert _token(owner).expires_at - NOW == timedelta(minutes=30)
    assert _token(owner, Purpose.VERIFY_EMAIL).expires_at - NOW == timedelta(hours=48)


@pytest.mark.parametrize(
    "spoil",
    [
        "unknown",
        "used",
        "expired",
        "other_purpose",
        "email_moved",
        "deleted",
    ],
)
def test_a_token_is_refused_unless_unused_unexpired_and_still_the_accounts(spoil: str) -> None:
    owner = user()
    token: account_tokens.AccountToken | None = _token(owner)
    now, purpose = NOW + timedelta(minutes=5), Purpose.PASSWORD_RESET
    match spoil:
        case "unknown":
            token = None
        case "used":
            token = replace(_token(owner), used_at=NOW)
        case "expired":
            now = NOW + timedelta(minutes=30)
        case "other_purpose":
            purpose = Purpose.VERIFY_EMAIL
        case "email_moved":
            owner = replace(owner, email="new@example.com")
        case "deleted":
            owner = replace(owner, deleted_at=NOW)
    with pytest.raises(InvalidAccountToken):
        account_tokens.redeem(token, owner, purpose, now=now)


def test_a_good_token_is_spent_once() -> None:
    owner = user()
    spent, found = account_tokens.redeem(
        _token(owner), owner, Purpose.PASSWORD_RESET, now=NOW + timedelta(minutes=29)
    )
    assert (spent.used_at, found) == (NOW + timedelta(minutes=29), owner)
    with pytest.raises(InvalidAccountToken):
        account_tokens.redeem(spent, owner, Purpose.PASSWORD_RESET, now=NOW)


MOVES = [(move, status) for move in Move for status in AccountStatus]


@pytest.mark.parametrize(("move", "status"), MOVES)
def test_status_moves_follow_the_table(move: Move, status: AccountStatus) -> None:
    target = moderation.MOVES.get((move, status))
    if target is None:
        with pytest.raises(InvalidStatusMove):
            moderation.apply(user(status=status), move, "r", now=NOW)
        return
    moved, event = moderation.apply(user(status=status), move, "r", now=NOW)
    assert moved.status is target is event.status


def test_the_table_itself() -> None:
    assert moderation.MOVES == {
        (Move.SUSPEND, A): S,
        (Move.UNSUSPEND, S): A,
        (Move.BAN, A): B,
        (Move.BAN, S): B,
    }


@pytest.mark.parametrize(
    ("status", "error"), [(A, None), (S, AccountSuspended), (B, AccountBanned)]
)
def test_who_may_log_in(status: AccountStatus, error: type[Exception] | None) -> None:
    if error is None:
        moderation.check_may_log_in(user(status=status))
    else:
        with pytest.raises(error):
            moderation.check_may_log_in(user(status=status))


def test_erasure_keeps_only_the_id_role_and_dates() -> None:
    full = user(
        bio="b", city="c", skills=("moving",), avatar_url="https://a/x", email_verified_at=NOW
    )
    erased = accounts.erase(full, now=NOW)
    assert (erased.id, erased.role, erased.created_at) == (full.id, full.role, full.created_at)
    assert erased.email == f"deleted-{full.id}@deleted.invalid"
    assert (erased.name, erased.bio, erased.city, erased.skills, erased.avatar_url) == (
        accounts.DELETED_NAME, "", "", (), None,
    )  # fmt: skip
    assert erased.email_verified_at is None
    assert erased.deleted_at == NOW
