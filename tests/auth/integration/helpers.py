"""Helpers for auth's HTTP tests: accounts with unique emails, login, bearer headers."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import nats
from aiohttp import web
from aiohttp.test_utils import TestClient
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from chore_common.contracts import Envelope

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


async def events_about(nats_url: str, key: str, value: str, count: int) -> list[Envelope]:
    """Envelopes on the AUTH stream whose data[key] == value; waits for `count` of them."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + 5
        while True:
            sub = await js.pull_subscribe(
                "auth.>",
                stream="AUTH",
                config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE),
            )
            found: list[Envelope] = []
            pending = (await sub.consumer_info()).num_pending
            while pending:
                msgs = await sub.fetch(min(pending, 500), timeout=2)
                found += [Envelope.from_bytes(m.data) for m in msgs]
                pending = msgs[-1].metadata.num_pending
            await sub.unsubscribe()
            mine = [e for e in found if str(e.data.get(key)) == value]
            if len(mine) >= count or time.monotonic() > deadline:
                return mine
            await asyncio.sleep(0.1)
    finally:
        await nc.close()


async def event_of(nats_url: str, type_: str, user_id: str, count: int = 1) -> list[Envelope]:
    """The `type_` events about `user_id` on the AUTH stream, once `count` are there."""
    deadline = time.monotonic() + 5
    while True:
        found = [e for e in await events_about(nats_url, "user_id", user_id, 1) if e.type == type_]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


def token_of(link: str) -> str:
    """The single-use token a mailed link carries (`?token=`)."""
    return parse_qs(urlsplit(link).query)["token"][0]
