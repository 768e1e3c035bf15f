"""Email verification: the link mailed at sign-up and on an email change works once, and
only a verified account posts tasks and offers (tasks reads the token's `ev` claim).
Issue 25, done-when 3."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import pytest

from chore_common.testing.apps import StartApp
from chore_common.testing.nats import NatsServer

from .helpers import PASSWORD, Account, Client, bearer, event_of, login, register, token_of

pytestmark = pytest.mark.db

TASK = {"title": "Fix the sink", "category": "plumbing", "budget_cents": 5000}


async def verification_link(nats_url: str, account: Account, nth: int = 1) -> str:
    mails = await event_of(nats_url, "auth.user.email_verification_requested", account.id, nth)
    assert len(mails) == nth
    link: str = mails[-1].data["link"]
    return link


async def refreshed(auth: Client, tokens: dict[str, Any]) -> dict[str, Any]:
    resp = await auth.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert resp.status == 200
    fresh: dict[str, Any] = await resp.json()
    return fresh


async def test_posting_waits_for_the_verification_link_which_works_once(
    auth: Client, start_tasks: StartApp, nats_server: NatsServer
) -> None:
    tasks = await start_tasks()
    client = await register(auth, role="client")
    tasker = await register(auth, role="tasker")
    client_tokens, tasker_tokens = await login(auth, client), await login(auth, tasker)

    refused = await tasks.post("/tasks", json=TASK, headers=bearer(client_tokens["access_token"]))
    assert refused.status == 403
    assert (await refused.json())["code"] == "email_unverified"

    link = await verification_link(nats_server.url, client)
    assert link.startswith("http://127.0.0.1:8080/auth/email/verify?token=")
    opened = await auth.get("/auth/email/verify", params={"token": token_of(link)})
    assert opened.status == 204
    again = await auth.get("/auth/email/verify", params={"token": token_of(link)})
    assert again.status == 400
    assert (await again.json())["code"] == "invalid_token"

    client_tokens = await refreshed(auth, client_tokens)  # the next token says `ev: true`
    posted = await tasks.post("/tasks", json=TASK, headers=bearer(client_tokens["access_token"]))
    assert posted.status == 201, await posted.text()
    task_id = (await posted.json())["id"]

    offer = {"price_cents": 4000, "message": "Tomorrow?"}
    url = f"/tasks/{task_id}/offers"
    refused = await tasks.post(url, json=offer, headers=bearer(tasker_tokens["access_token"]))
    assert refused.status == 403
    assert (await refused.json())["code"] == "email_unverified"
    verify = {"token": token_of(await verification_link(nats_server.url, tasker))}
    assert (await auth.post("/auth/email/verify", json=verify)).status == 204
    tasker_tokens = await refreshed(auth, tasker_tokens)
    made = await tasks.post(url, json=offer, headers=bearer(tasker_tokens["access_token"]))
    assert made.status == 201, await made.text()

    profile = await auth.get("/auth/me/profile", headers=bearer(client_tokens["access_token"]))
    assert (await profile.json())["email_verified"] is True
    contacts = await event_of(nats_server.url, "auth.user.contact_changed", client.id, 2)
    assert [c.data["email_verified"] for c in contacts] == [False, True]


async def test_with_the_requirement_off_every_token_may_post(
    start_auth: Callable[..., Awaitable[Client]],
) -> None:
    auth = await start_auth(require_verified_email=False)
    account = await register(auth)
    tokens = await login(auth, account)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["ev"] is True


async def test_a_new_email_is_unverified_until_its_own_link_is_opened(
    auth: Client, nats_server: NatsServer
) -> None:
    account = await register(auth)
    headers = bearer((await login(auth, account))["access_token"])
    first = await verification_link(nats_server.url, account)
    wrong = await auth.post(
        "/auth/me/email", json={"email": "x-" + account.email, "password": "nope"}, headers=headers
    )
    assert wrong.status == 403
    new_email = "moved-" + account.email
    resp = await auth.post(
        "/auth/me/email", json={"email": new_email, "password": PASSWORD}, headers=headers
    )
    assert resp.status == 204
    second = await verification_link(nats_server.url, account, 2)
    stale = await auth.post("/auth/email/verify", json={"token": token_of(first)})
    assert stale.status == 400  # the old address's link proves nothing about the new one
    assert (await auth.post("/auth/email/verify", json={"token": token_of(second)})).status == 204
    account.email = new_email
    await login(auth, account)
    contacts = await event_of(nats_server.url, "auth.user.contact_changed", account.id, 3)
    assert [(c.data["email"], c.data["email_verified"]) for c in contacts][1:] == [
        (new_email, False),
        (new_email, True),
    ]
