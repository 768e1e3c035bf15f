"""`Idempotency-Key` on POST /auth/register over real HTTP: a retried sign-up gets the first
account back and creates (and announces) one user. Sign-up is anonymous, so the key is
scoped by route alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_auth.adapters.tables import outbox, users
from chore_auth.settings import AuthSettings
from chore_common.db import create_engine
from chore_common.idempotency import middleware as idempotency

from .helpers import PASSWORD, Client, unique_email

pytestmark = pytest.mark.db


@pytest.fixture
async def engine(auth: Client, auth_settings: AuthSettings) -> AsyncIterator[AsyncEngine]:
    made = create_engine(auth_settings.database_url)
    yield made
    await made.dispose()


def sign_up(email: str, name: str = "Pat Doe") -> dict[str, Any]:
    return {"email": email, "password": PASSWORD, "name": name, "role": "client"}


async def count(engine: AsyncEngine, query: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def test_a_retried_sign_up_returns_the_first_account_and_one_event(
    auth: Client, engine: AsyncEngine
) -> None:
    body, key = sign_up(unique_email()), {"Idempotency-Key": "signup-1"}
    first = await auth.post("/auth/register", json=body, headers=key)
    again = await auth.post("/auth/register", json=body, headers=key)
    assert first.status == again.status == 201
    assert await again.json() == await first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await count(engine, select(func.count()).select_from(users)) == 1
    registered = select(func.count()).where(outbox.c.subject == "auth.user.registered")
    assert await count(engine, registered) == 1


async def test_a_retried_sign_up_without_a_key_is_still_email_taken(auth: Client) -> None:
    body = sign_up(unique_email())
    assert (await auth.post("/auth/register", json=body)).status == 201
    again = await auth.post("/auth/register", json=body)
    assert again.status == 409
    assert (await again.json())["code"] == "email_taken"


async def test_the_same_key_with_another_sign_up_is_422(auth: Client, engine: AsyncEngine) -> None:
    key = {"Idempotency-Key": "signup-2"}
    assert (await auth.post("/auth/register", json=sign_up(unique_email()), headers=key)).ok
    other = await auth.post("/auth/register", json=sign_up(unique_email()), headers=key)
    assert other.status == 422
    assert (await other.json())["code"] == "idempotency_key_reused"
    assert await count(engine, select(func.count()).select_from(users)) == 1


async def test_concurrent_sign_ups_with_one_key_create_one_account(
    auth: Client, engine: AsyncEngine
) -> None:
    body, key = sign_up(unique_email()), {"Idempotency-Key": "signup-race"}
    replies = await asyncio.gather(
        *(auth.post("/auth/register", json=body, headers=key) for _ in range(4))
    )
    assert [r.status for r in replies] == [201] * 4
    assert len({(await r.json())["id"] for r in replies}) == 1
    assert await count(engine, select(func.count()).select_from(users)) == 1


async def test_a_refused_sign_up_leaves_the_key_free_for_a_corrected_retry(
    auth: Client, engine: AsyncEngine
) -> None:
    key = {"Idempotency-Key": "signup-3"}
    short = {**sign_up(unique_email()), "password": "short"}
    assert (await auth.post("/auth/register", json=short, headers=key)).status == 422
    fixed = await auth.post("/auth/register", json=sign_up(unique_email()), headers=key)
    assert fixed.status == 201


async def test_the_openapi_document_offers_the_key_on_sign_up(auth: Client) -> None:
    paths = (await (await auth.get("/openapi.json")).json())["paths"]
    params = paths["/auth/register"]["post"]["parameters"]
    assert {"Idempotency-Key"} == {p["name"] for p in params if p["in"] == "header"}
    assert "parameters" not in paths["/auth/login"]["post"]


async def test_a_sign_up_the_api_refuses_costs_no_password_grade_fingerprint(
    auth: Client, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key's scrypt fingerprint (16 MiB, ~40 ms) runs only for a body that validates."""
    hashed: list[bytes] = []
    real = idempotency.secret_fingerprint

    def counted(body: bytes, salt: str) -> str:
        hashed.append(body)
        return real(body, salt)

    monkeypatch.setattr(idempotency, "secret_fingerprint", counted)
    refused = [
        {"email": "not an email", "password": PASSWORD, "name": "Pat", "role": "client"},
        {"email": unique_email(), "password": "short", "name": "Pat", "role": "client"},
        {"email": unique_email(), "password": PASSWORD, "name": "Pat", "role": "admin"},
        {"password": PASSWORD},
    ]
    for i, body in enumerate(refused * 5):
        resp = await auth.post("/auth/register", json=body, headers={"Idempotency-Key": f"r-{i}"})
        assert resp.status == 422
        assert resp.content_type == "application/problem+json"
    assert hashed == []
    resp = await auth.post(
        "/auth/register", json=sign_up(unique_email()), headers={"Idempotency-Key": "valid"}
    )
    assert resp.status == 201
    assert len(hashed) == 1
    assert await count(engine, select(func.count()).select_from(users)) == 1
