"""SPEC auth table, accounts: register, login, me, and their errors, over real HTTP."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from .helpers import PASSWORD, Client, bearer, login, register, unique_email

pytestmark = pytest.mark.db


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    decode = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))  # noqa: E731
    return decode(head), decode(body)


async def test_register_returns_the_new_user_without_any_password(auth: Client) -> None:
    email = unique_email()
    resp = await auth.post(
        "/auth/register",
        json={"email": email, "password": PASSWORD, "name": "Ana", "role": "tasker"},
    )
    assert resp.status == 201
    body = await resp.json()
    assert body["email"] == email
    assert body["role"] == "tasker"
    assert body["name"] == "Ana"
    assert set(body) == {"id", "email", "name", "role", "created_at"}


async def test_registering_a_taken_email_is_409_email_taken_whatever_its_case(
    auth: Client,
) -> None:
    account = await register(auth)
    resp = await auth.post(
        "/auth/register",
        json={
            "email": account.email.upper(),
            "password": PASSWORD,
            "name": "Other",
            "role": "client",
        },
    )
    assert resp.status == 409
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["code"] == "email_taken"


async def test_a_short_password_is_422_naming_the_field_without_echoing_it(auth: Client) -> None:
    resp = await auth.post(
        "/auth/register",
        json={"email": unique_email(), "password": "short-pw", "name": "A", "role": "client"},
    )
    assert resp.status == 422
    body = await resp.json()
    assert [e["field"] for e in body["errors"]] == ["password"]
    assert "short-pw" not in await resp.text()


async def test_unknown_fields_are_422(auth: Client) -> None:
    resp = await auth.post(
        "/auth/register",
        json={
            "email": unique_email(),
            "password": PASSWORD,
            "name": "A",
            "role": "client",
            "is_admin": True,
        },
    )
    assert resp.status == 422
    assert [e["field"] for e in (await resp.json())["errors"]] == ["is_admin"]
    resp = await auth.post("/auth/login", json={"email": "a@b.co", "password": "x", "extra": 1})
    assert resp.status == 422


async def test_nobody_can_sign_up_as_admin(auth: Client) -> None:
    resp = await auth.post(
        "/auth/register",
        json={"email": unique_email(), "password": PASSWORD, "name": "A", "role": "admin"},
    )
    assert resp.status == 422


async def test_login_returns_a_bearer_pair_with_an_eddsa_token_carrying_every_claim(
    auth: Client,
) -> None:
    account = await register(auth, role="tasker")
    resp = await auth.post("/auth/login", json={"email": account.email, "password": PASSWORD})
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    tokens = await resp.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    assert tokens["refresh_token"]
    assert tokens["refresh_token"] != tokens["access_token"]
    header, claims = jwt_parts(tokens["access_token"])
    assert header["alg"] == "EdDSA"
    assert header["kid"]
    assert set(claims) == {"sub", "sid", "role", "iat", "exp", "iss", "aud", "jti", "ev"}
    assert claims["sub"] == account.id
    assert claims["ev"] is False  # a new account has not opened its verification link yet
    assert claims["role"] == "tasker"
    assert claims["exp"] - claims["iat"] == 900
    assert (claims["iss"], claims["aud"]) == ("chore-auth", "chore-platform")


async def test_a_wrong_password_is_401_invalid_credentials(auth: Client) -> None:
    account = await register(auth)
    resp = await auth.post("/auth/login", json={"email": account.email, "password": "nope" * 3})
    assert resp.status == 401
    assert (await resp.json())["code"] == "invalid_credentials"


async def test_me_returns_the_signed_in_user(auth: Client) -> None:
    account = await register(auth)
    tokens = await login(auth, account)
    resp = await auth.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert resp.status == 200
    body = await resp.json()
    assert (body["id"], body["email"], body["role"]) == (account.id, account.email, "client")


async def test_me_without_a_token_is_401_problem_json_with_a_bearer_challenge(
    auth: Client,
) -> None:
    resp = await auth.get("/auth/me")
    assert resp.status == 401
    assert resp.content_type == "application/problem+json"
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert (await resp.json())["code"] == "missing_token"


async def test_head_answers_where_get_does_with_the_same_token(auth: Client) -> None:
    tokens = await login(auth, await register(auth))
    for path in ("/auth/me", "/auth/sessions"):
        got = await auth.get(path, headers=bearer(tokens["access_token"]))
        head = await auth.head(path, headers=bearer(tokens["access_token"]))
        assert (got.status, head.status) == (200, 200), path
        assert await head.read() == b""
        assert (await auth.head(path)).status == 401
    assert (await auth.head("/auth/.well-known/jwks.json")).status == 200
