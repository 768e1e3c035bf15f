"""Events through the outbox: sign-up publishes auth.user.registered, every revocation
publishes auth.session.revoked — read back from the AUTH stream on the real nats-server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from chore_common.contracts import Envelope
from chore_common.testing.nats import NatsServer

from .helpers import Client, bearer, login, register

pytestmark = pytest.mark.db


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


async def test_sign_up_publishes_user_registered_without_the_email(
    auth: Client, nats_server: NatsServer
) -> None:
    account = await register(auth, role="tasker")
    events = await events_about(nats_server.url, "user_id", account.id, 3)
    # With it: the address book's contact_changed and the verification mail (their own tests).
    [event] = [e for e in events if e.type == "auth.user.registered"]
    assert (event.type, event.version, event.producer) == ("auth.user.registered", 1, "auth")
    assert event.data["role"] == "tasker"
    assert event.data["name"] == "Pat Doe"
    assert account.email not in event.model_dump_json()


async def test_logout_and_session_delete_each_publish_session_revoked(
    auth: Client, nats_server: NatsServer
) -> None:
    account = await register(auth)
    first, second = await login(auth, account), await login(auth, account)
    await auth.post("/auth/logout", headers=bearer(first["access_token"]))
    listed = await (await auth.get("/auth/sessions", headers=bearer(second["access_token"]))).json()
    await auth.delete(
        f"/auth/sessions/{listed['items'][0]['id']}", headers=bearer(second["access_token"])
    )
    events = await events_about(nats_server.url, "user_id", account.id, 3)
    revoked: list[dict[str, Any]] = [e.data for e in events if e.type == "auth.session.revoked"]
    assert sorted(r["reason"] for r in revoked) == ["logout", "user_revoked"]
    assert len({r["session_id"] for r in revoked}) == 2
