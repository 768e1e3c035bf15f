"""Posting tasks and offers needs a verified email: the token's `ev` claim (issue 25).
The flow with the real auth service is tests/auth/integration/test_email_verification.py."""

from __future__ import annotations

import pytest

from chore_common.testing.apps import StartApp
from chore_common.testing.issuer import Issuer

from .conftest import Client

pytestmark = pytest.mark.db

TASK = {"title": "Mow the lawn", "category": "gardening", "budget_cents": 3000}
OFFER = {"price_cents": 2500, "message": "Saturday"}


async def test_unverified_tokens_cannot_post_tasks_or_offers(tasks: Client, issuer: Issuer) -> None:
    unverified_client = issuer.user("client", email_verified=False)
    resp = await tasks.post("/tasks", json=TASK, headers=unverified_client.headers)
    assert resp.status == 403
    assert (await resp.json())["code"] == "email_unverified"
    listed = await (await tasks.get("/tasks?owner=me", headers=unverified_client.headers)).json()
    assert listed["items"] == []  # nothing was stored

    owner = issuer.user("client")  # verified: the Issuer's default
    posted = await tasks.post("/tasks", json=TASK, headers=owner.headers)
    assert posted.status == 201
    url = f"/tasks/{(await posted.json())['id']}/offers"
    unverified_tasker = issuer.user("tasker", email_verified=False)
    resp = await tasks.post(url, json=OFFER, headers=unverified_tasker.headers)
    assert resp.status == 403
    assert (await resp.json())["code"] == "email_unverified"
    assert (await tasks.post(url, json=OFFER, headers=issuer.user("tasker").headers)).status == 201


async def test_the_requirement_can_be_turned_off(start_tasks: StartApp, issuer: Issuer) -> None:
    tasks = await start_tasks(require_verified_email=False)
    unverified = issuer.user("client", email_verified=False)
    assert (await tasks.post("/tasks", json=TASK, headers=unverified.headers)).status == 201
