"""Use cases against in-memory fakes: the decisions, not the storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from chore_auth.domain.errors import EmailTaken, InvalidCredentials, InvalidRefreshToken
from chore_auth.domain.events import RevokeReason, SessionRevoked, UserRegistered
from chore_auth.domain.model import Role
from chore_auth.usecases import accounts, login, sessions
from chore_auth.usecases.commands import Caller
from chore_common.errors import RateLimited

from .fakes import FakeHasher, Store, fake_deps

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PASSWORD = "long enough password"


async def signed_up(store: Store, hasher: FakeHasher | None = None) -> UUID:
    deps = fake_deps(store, hasher)
    cmd = accounts.Register("pat@example.com", PASSWORD, "Pat", Role.CLIENT)
    user = await accounts.register(deps.uow, deps.hasher, cmd, now=NOW)
    return user.id


async def test_register_stores_the_hash_and_announces_the_user() -> None:
    store = Store()
    user_id = await signed_up(store)
    assert store.users[user_id].password_hash == f"v1:{PASSWORD}"
    assert [type(e) for e in store.published] == [UserRegistered]
    deps = fake_deps(store)
    cmd = accounts.Register("PAT@example.com", PASSWORD, "Pat", Role.CLIENT)
    with pytest.raises(EmailTaken):
        await accounts.register(deps.uow, deps.hasher, cmd, now=NOW)


async def test_an_unknown_email_still_costs_one_password_check() -> None:
    store, hasher = Store(), FakeHasher()
    deps = fake_deps(store, hasher)
    with pytest.raises(InvalidCredentials):
        await login.login(
            deps.uow, login.Login("ghost@example.com", PASSWORD, "1.2.3.4"), now=NOW, **deps.login
        )
    assert hasher.checked == [None]


async def test_a_wrong_password_and_an_unknown_email_raise_the_same_error() -> None:
    store = Store()
    await signed_up(store)
    deps = fake_deps(store)
    errors = []
    for email in ("pat@example.com", "ghost@example.com"):
        with pytest.raises(InvalidCredentials) as caught:
            await login.login(
                deps.uow, login.Login(email, "wrong password", "1.2.3.4"), now=NOW, **deps.login
            )
        errors.append((type(caught.value), caught.value.code, caught.value.detail))
    assert errors[0] == errors[1]


async def test_three_failures_from_one_address_lock_it_out_even_for_the_right_password() -> None:
    store = Store()
    await signed_up(store)
    deps = fake_deps(store)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            await login.login(
                deps.uow, login.Login("pat@example.com", "nope", "10.0.0.1"), now=NOW, **deps.login
            )
    with pytest.raises(RateLimited):
        await login.login(
            deps.uow, login.Login("pat@example.com", PASSWORD, "10.0.0.1"), now=NOW, **deps.login
        )
    later = NOW + timedelta(minutes=15)
    await login.login(
        deps.uow, login.Login("pat@example.com", PASSWORD, "10.0.0.1"), now=later, **deps.login
    )


async def test_failures_from_other_addresses_never_keep_the_owner_out() -> None:
    store = Store()
    await signed_up(store)
    deps = fake_deps(store)
    for i in range(20):
        with pytest.raises((InvalidCredentials, RateLimited)):
            await login.login(
                deps.uow,
                login.Login("pat@example.com", "nope", f"10.0.0.{i % 4}"),
                now=NOW,
                **deps.login,
            )
    tokens = await login.login(
        deps.uow, login.Login("pat@example.com", PASSWORD, "10.9.9.9"), now=NOW, **deps.login
    )
    assert tokens.access_token


async def test_an_account_under_attack_gives_each_address_one_guess() -> None:
    store = Store()
    await signed_up(store)
    deps = fake_deps(store)
    for i in range(3):  # the account's limit, each from another address
        with pytest.raises(InvalidCredentials):
            await login.login(
                deps.uow,
                login.Login("pat@example.com", "nope", f"10.0.0.{i}"),
                now=NOW,
                **deps.login,
            )
    # Under attack now: an address that failed on it waits (the right password included)...
    with pytest.raises(RateLimited):
        await login.login(
            deps.uow, login.Login("pat@example.com", PASSWORD, "10.0.0.0"), now=NOW, **deps.login
        )
    # ...and a new one gets one guess, then waits too.
    with pytest.raises(InvalidCredentials):
        await login.login(
            deps.uow, login.Login("pat@example.com", "nope", "10.0.1.1"), now=NOW, **deps.login
        )
    with pytest.raises(RateLimited):
        await login.login(
            deps.uow, login.Login("pat@example.com", "nope", "10.0.1.1"), now=NOW, **deps.login
        )


async def test_the_owners_own_typos_leave_the_account_count_when_they_get_in() -> None:
    store = Store()
    await signed_up(store)
    deps = fake_deps(store)

    async def attempt(password: str, address: str) -> None:
        await login.login(
            deps.uow, login.Login("pat@example.com", password, address), now=NOW, **deps.login
        )

    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await attempt("typo", "10.0.0.1")
    await attempt(PASSWORD, "10.0.0.1")
    with pytest.raises(InvalidCredentials):
        await attempt("nope", "10.0.2.1")
    with pytest.raises(InvalidCredentials):
        await attempt("typo", "10.0.0.1")
    # Counted, the first two typos would make this the third failure on the account, and
    # the owner's address (which failed just now) would wait.
    await attempt(PASSWORD, "10.0.0.1")


async def test_login_rehashes_when_the_parameters_changed() -> None:
    store = Store()
    user_id = await signed_up(store, FakeHasher("v1"))
    deps = fake_deps(store, FakeHasher("v2"))
    await login.login(
        deps.uow, login.Login("pat@example.com", PASSWORD, "1.1.1.1"), now=NOW, **deps.login
    )
    assert store.users[user_id].password_hash == f"v2:{PASSWORD}"


async def test_refresh_reuse_revokes_the_session_announces_it_and_tells_this_replica() -> None:
    store, told = Store(), []
    await signed_up(store)
    deps = fake_deps(store, revoked=told)
    first = await login.login(
        deps.uow, login.Login("pat@example.com", PASSWORD, "1.1.1.1"), now=NOW, **deps.login
    )
    await sessions.refresh(
        deps.uow, first.refresh_token, now=NOW + timedelta(seconds=1), **deps.refresh
    )
    with pytest.raises(InvalidRefreshToken):
        await sessions.refresh(
            deps.uow, first.refresh_token, now=NOW + timedelta(seconds=60), **deps.refresh
        )
    session = store.sessions[first.session_id]
    assert session.revoke_reason == "refresh_reuse"
    assert session.revoked_at is not None
    assert [e for e in store.published if isinstance(e, SessionRevoked)] == [
        SessionRevoked(session.id, session.user_id, RevokeReason.REFRESH_REUSE, session.revoked_at)
    ]
    assert told == [session.id]


async def test_logout_then_revoke_again_announces_once() -> None:
    store = Store()
    await signed_up(store)
    deps = fake_deps(store)
    tokens = await login.login(
        deps.uow, login.Login("pat@example.com", PASSWORD, "1.1.1.1"), now=NOW, **deps.login
    )
    user_id = store.sessions[tokens.session_id].user_id
    await sessions.logout(
        deps.uow, Caller(user_id, tokens.session_id), now=NOW, on_revoked=deps.on_revoked
    )
    revoked = [e for e in store.published if isinstance(e, SessionRevoked)]
    assert [e.reason for e in revoked] == [RevokeReason.LOGOUT]


async def test_a_retry_inside_the_grace_gets_the_same_refresh_token_again() -> None:
    store = Store()
    await signed_up(store)
    deps = fake_deps(store)
    first = await login.login(
        deps.uow, login.Login("pat@example.com", PASSWORD, "1.1.1.1"), now=NOW, **deps.login
    )
    soon = NOW + timedelta(seconds=1)
    rotated = await sessions.refresh(deps.uow, first.refresh_token, now=soon, **deps.refresh)
    retries = [
        await sessions.refresh(deps.uow, first.refresh_token, now=soon, **deps.refresh)
        for _ in range(3)
    ]
    assert {r.refresh_token for r in retries} == {rotated.refresh_token}
    assert len(store.tokens) == 2  # the login's token and its one successor
    assert all(r.session_id == first.session_id for r in retries)


async def test_counters_whose_window_ended_are_forgotten_and_live_ones_kept() -> None:
    store = Store()
    deps = fake_deps(store)
    with pytest.raises(InvalidCredentials):
        await login.login(
            deps.uow, login.Login("old@example.com", "nope", "10.0.0.1"), now=NOW, **deps.login
        )
    later = NOW + timedelta(minutes=10)
    with pytest.raises(InvalidCredentials):
        await login.login(
            deps.uow, login.Login("new@example.com", "nope", "10.0.0.2"), now=later, **deps.login
        )
    assert len(store.failures) == 6
    forgotten = await login.forget_ended_windows(
        deps.uow, deps.login_throttle, now=NOW + timedelta(minutes=16)
    )
    assert forgotten == 3
    assert sorted(key.split(":")[0] for key in store.failures) == ["account", "account_ip", "ip"]
    assert store.failures[login.throttle_keys("new@example.com", "10.0.0.2").address].count == 1
