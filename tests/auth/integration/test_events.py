"""Events through the outbox: sign-up publishes auth.user.registered, every revocation
publishes auth.session.revoked — read back from the AUTH stream on the real nats-server."""

from __future__ import annotations

from typing import Any

import pytest

from chore_common.testing.nats import NatsServer

from .helpers import Client, bearer, events_about, login, register

pytestmark = pytest.mark.db


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
    # Sign-up's three (registered, contact_changed, email_verification_requested), then these.
    events = await events_about(nats_server.url, "user_id", account.id, 5)
    revoked: list[dict[str, Any]] = [e.data for e in events if e.type == "auth.session.revoked"]
    assert sorted(r["reason"] for r in revoked) == ["logout", "user_revoked"]
    assert len({r["session_id"] for r in revoked}) == 2
