"""S4/S5 and secrets: login never tells whether an email exists, repeated failures are
throttled per address and per account without locking the owner out, hashes follow the
parameters, nothing secret is logged.

The client's address comes from `X-Real-IP`, which auth believes from a trusted proxy:
these tests connect from loopback, the default trusted network, as the gateway does.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from chore_auth.adapters.tables import login_failures, users
from chore_common.db import create_engine

from .helpers import PASSWORD, Client, bearer, login, register, unique_email

pytestmark = pytest.mark.db


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


async def timed_login(auth: Client, email: str, password: str, ip: str) -> tuple[float, Any]:
    started = time.perf_counter()
    resp = await auth.post(
        "/auth/login", json={"email": email, "password": password}, headers={"X-Real-IP": ip}
    )
    elapsed = time.perf_counter() - started
    return elapsed, (resp.status, dict(resp.headers), await resp.json())


async def test_unknown_email_and_wrong_password_get_the_same_answer_in_similar_time(
    start_auth: Callable[..., Awaitable[Client]],
) -> None:
    auth = await start_auth(login_account_max_failures=100)
    account = await register(auth)
    unknown, wrong = [], []
    for i in range(5):
        # A fresh IP and account each time keeps the throttle out of the comparison.
        spent, (status, _, body) = await timed_login(
            auth, unique_email("ghost"), "wrong password!", f"10.1.0.{i}"
        )
        unknown.append(spent)
        ghost = (status, without_request_id(body))
        spent, (status, _, body) = await timed_login(
            auth, account.email, "wrong password!", f"10.2.0.{i}"
        )
        wrong.append(spent)
        known = (status, without_request_id(body))
        assert ghost == known
    assert ghost[0] == 401
    assert ghost[1]["code"] == "invalid_credentials"
    # Not a speed test: both paths run one argon2id check, so neither is a small fraction of
    # the other (a lookup-only path for unknown emails answers in ~2 ms, a check takes ~30).
    # Medians of interleaved samples, and a wide bound, because the machine is shared.
    assert statistics.median(unknown) > 0.3 * statistics.median(wrong)
    assert statistics.median(wrong) > 0.3 * statistics.median(unknown)


async def test_repeated_failures_lock_the_address_out_of_the_account_with_429_and_retry_after(
    auth: Client,
) -> None:
    account = await register(auth)
    for _ in range(3):  # login_account_max_failures=3, all from one address
        _, (status, _, _) = await timed_login(auth, account.email, "wrong password!", "10.3.0.1")
        assert status == 401
    _, (status, headers, body) = await timed_login(auth, account.email, PASSWORD, "10.3.0.1")
    assert status == 429
    assert body["code"] == "too_many_attempts"
    assert 0 < int(headers["Retry-After"]) <= 60
    # The lock is this address's on this account: another account is not affected, and
    # the owner logs in from another address.
    other = await register(auth)
    assert (await login(auth, other, **{"X-Real-IP": "10.3.0.1"}))["access_token"]
    assert (await login(auth, account, **{"X-Real-IP": "10.3.1.1"}))["access_token"]


async def test_an_unknown_email_is_locked_exactly_like_a_real_one(auth: Client) -> None:
    real = (await register(auth)).email
    for i, email in enumerate((unique_email("ghost"), real)):
        answers = [
            (await timed_login(auth, email, "wrong password!", f"10.4.0.{i}"))[1][0]
            for _ in range(4)
        ]
        assert answers == [401, 401, 401, 429]


async def test_failures_from_many_addresses_never_lock_the_owner_out(auth: Client) -> None:
    account = await register(auth)
    answers = [
        (await timed_login(auth, account.email, "wrong password!", f"10.8.0.{i % 5}"))[1][0]
        for i in range(20)
    ]
    # Three failures put the account under attack: from then on each address that has
    # failed on it waits, and every other address gets one guess.
    assert answers == [401] * 5 + [429] * 15
    _, (status, _, _) = await timed_login(auth, account.email, "wrong password!", "10.8.1.1")
    assert status == 401
    _, (status, _, _) = await timed_login(auth, account.email, PASSWORD, "10.8.1.1")
    assert status == 429  # that address used its guess
    _, (status, _, _) = await timed_login(auth, account.email, PASSWORD, "10.8.2.1")
    assert status == 200  # the owner, from an address that has not failed on the account


async def test_a_hundred_failures_from_one_address_lock_it_out_and_nobody_else(
    start_auth: Callable[..., Awaitable[Client]],
) -> None:
    """Done-when 5 at the service: the production limits, auth behind a proxy that names
    the client (the gateway's X-Real-IP)."""
    auth = await start_auth(
        login_account_max_failures=5, login_ip_max_failures=50, login_window_s=900
    )
    owners = [await register(auth) for _ in range(3)]
    attacker = "203.0.113.66"
    # Six guesses at each real account (the sixth over its limit of five), then random ones.
    targets = [o.email for o in owners for _ in range(6)] + [unique_email() for _ in range(82)]
    answers = [
        (await timed_login(auth, email, "wrong password!", attacker))[1][0] for email in targets
    ]
    assert answers[:18] == ([401] * 5 + [429]) * 3
    assert answers[18:] == [401] * 35 + [429] * 47  # 50 failures: the address's limit
    for owner in owners:
        _, (status, _, _) = await timed_login(auth, owner.email, PASSWORD, attacker)
        assert status == 429
        _, (status, _, _) = await timed_login(auth, owner.email, PASSWORD, "198.51.100.7")
        assert status == 200


async def test_a_client_that_is_no_trusted_proxy_cannot_pick_its_address(
    start_auth: Callable[..., Awaitable[Client]],
) -> None:
    auth = await start_auth(trusted_proxies=[])  # loopback is a client like any other now
    answers = [
        (await timed_login(auth, unique_email(), "wrong password!", f"10.9.0.{i}"))[1][0]
        for i in range(7)
    ]
    assert answers == [401] * 6 + [429]  # login_ip_max_failures=6, all as 127.0.0.1


async def test_repeated_failures_from_one_ip_are_throttled_across_accounts(auth: Client) -> None:
    for _ in range(6):  # login_ip_max_failures=6, each on another (unknown) account
        _, (status, _, _) = await timed_login(auth, unique_email(), "wrong password!", "10.5.0.1")
        assert status == 401
    account = await register(auth)
    _, (status, headers, _) = await timed_login(auth, account.email, PASSWORD, "10.5.0.1")
    assert status == 429
    assert int(headers["Retry-After"]) > 0
    _, (status, _, _) = await timed_login(auth, account.email, PASSWORD, "10.5.0.2")
    assert status == 200


async def test_a_successful_login_clears_the_account_failures(auth: Client) -> None:
    account = await register(auth)
    for i in range(2):
        await timed_login(auth, account.email, "wrong password!", f"10.6.0.{i}")
    assert (await timed_login(auth, account.email, PASSWORD, "10.6.1.0"))[1][0] == 200
    for i in range(2):
        await timed_login(auth, account.email, "wrong password!", f"10.6.2.{i}")
    assert (await timed_login(auth, account.email, PASSWORD, "10.6.3.0"))[1][0] == 200


async def test_login_rehashes_a_password_hashed_with_older_parameters(
    start_auth: Callable[..., Awaitable[Client]], database_url: str
) -> None:
    old = await start_auth(argon2_memory_kib=8 * 1024, argon2_time_cost=1)
    account = await register(old)
    current = await start_auth()
    await login(current, account)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            stored = (
                await conn.execute(
                    select(users.c.password_hash).where(users.c.email == account.email)
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    assert stored.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in stored
    await login(current, account)  # and the new hash still verifies


async def test_passwords_and_tokens_never_reach_the_logs(
    auth: Client, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "s3cret-Pa55word-xyz"
    account = await register(auth, password=password)
    tokens = await login(auth, account)
    await auth.post("/auth/login", json={"email": account.email, "password": "WrongPa55-qwerty"})
    rotated = await (
        await auth.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).json()
    await auth.get("/auth/me", headers=bearer(rotated["access_token"]))
    await auth.post("/auth/introspect", json={"token": rotated["access_token"]})
    await auth.post("/auth/logout", headers=bearer(rotated["access_token"]))
    await auth.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    records = [r.getMessage() + " " + repr(vars(r)) for r in caplog.records]
    printed = capsys.readouterr()
    everything = "\n".join([*records, printed.out, printed.err])
    assert "auth.request" in everything or "http" in everything  # requests were logged
    secrets = [
        password,
        "WrongPa55-qwerty",
        tokens["access_token"],
        tokens["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
    ]
    for secret in secrets:
        assert secret not in everything
        assert secret[-20:] not in everything  # nor a recognisable piece of it


async def test_a_burst_of_concurrent_guesses_gets_no_more_tries_than_the_limit(
    auth: Client,
) -> None:
    account = await register(auth)
    answers = await asyncio.gather(
        *(timed_login(auth, account.email, f"guess number {i}", "10.7.0.1") for i in range(12))
    )
    statuses = sorted(status for _, (status, _, _) in answers)
    assert statuses == [401] * 3 + [429] * 9  # login_account_max_failures=3


async def test_a_burst_from_many_addresses_gets_one_guess_per_address(auth: Client) -> None:
    account = await register(auth)
    addresses = [f"10.7.1.{i}" for i in range(12)]
    first = await asyncio.gather(
        *(timed_login(auth, account.email, "guess", address) for address in addresses)
    )
    assert sorted(status for _, (status, _, _) in first) == [401] * 12
    again = await asyncio.gather(
        *(timed_login(auth, account.email, "guess", address) for address in addresses)
    )
    assert [status for _, (status, _, _) in again] == [429] * 12


async def test_failure_counters_are_forgotten_once_their_window_ends(
    start_auth: Callable[..., Awaitable[Client]], database_url: str
) -> None:
    auth = await start_auth(login_window_s=1)
    await timed_login(auth, unique_email("ghost"), "wrong password!", "10.10.0.1")
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert (
                await conn.execute(select(func.count()).select_from(login_failures))
            ).scalar_one() == 3
        deadline = time.monotonic() + 10
        left = 3
        while left and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            async with engine.connect() as conn:
                left = (
                    await conn.execute(select(func.count()).select_from(login_failures))
                ).scalar_one()
    finally:
        await engine.dispose()
    assert left == 0
