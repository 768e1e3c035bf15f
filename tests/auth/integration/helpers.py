"""Helpers for auth's HTTP tests: accounts with unique emails, login, bearer headers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

PASSWORD = "correct horse battery"
Client = TestClient[web.Request, web.Application]


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


@dataclass
class Account:
    id: str
    email: str
    password: str
    role: str


async def register(
    client: Client, *, role: str = "client", password: str = PASSWORD, email: str | None = None
) -> Account:
    email = email or unique_email(role)
    resp = await client.post(
        "/auth/register",
        json={"email": email, "password": password, "name": "Pat Doe", "role": role},
    )
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    return Account(body["id"], email, password, role)


async def login(client: Client, account: Account, **headers: str) -> dict[str, Any]:
    resp = await client.post(
        "/auth/login", json={"email": account.email, "password": account.password}, headers=headers
    )
    assert resp.status == 200, await resp.text()
    tokens: dict[str, Any] = await resp.json()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
