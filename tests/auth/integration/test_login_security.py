"""S4/S5 and secrets: login never tells whether an email exists, repeated failures are
throttled per account and per IP, hashes follow the parameters, nothing secret is logged."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from chore_auth.adapters.tables import users
from chore_common.db import create_engine

from .helpers import PASSWORD, Client, bearer, login, register, unique_email

pytestmark = pytest.mark.db


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


async def timed_login(auth: Client, email: str, password: str, ip: str) -> tuple[float, Any]:
    started = time.perf_counter()
    resp = await auth.post(
        "/auth/login", json={"email": email, "password": password}, headers={"X-Forwarded-For": ip}
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


async def test_repeated_failures_lock_the_account_with_429_and_retry_after(auth: Client) -> None:
    account = await register(auth)
    for i in range(3):  # login_account_max_failures=3, each from another IP
        _, (status, _, _) = await timed_login(auth, account.email, "wrong password!", f"10.3.0.{i}")
        assert status == 401
    _, (status, headers, body) = await timed_login(auth, account.email, PASSWORD, "10.3.1.1")
    assert status == 429
    assert body["code"] == "too_many_attempts"
    assert 0 < int(headers["Retry-After"]) <= 60
    # The lock is per account: another account is not affected.
    other = await register(auth)
    assert (await login(auth, other, **{"X-Forwarded-For": "10.3.1.2"}))["access_token"]


async def test_an_unknown_email_is_locked_exactly_like_a_real_one(auth: Client) -> None:
    ghost = unique_email("ghost")
    answers = [
        (await timed_login(auth, ghost, "wrong password!", f"10.4.0.{i}"))[1][0] for i in range(4)
    ]
    assert answers == [401, 401, 401, 429]


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
        *(timed_login(auth, account.email, f"guess number {i}", f"10.7.0.{i}") for i in range(12))
    )
    statuses = sorted(status for _, (status, _, _) in answers)
    assert statuses == [401] * 3 + [429] * 9  # login_account_max_failures=3
