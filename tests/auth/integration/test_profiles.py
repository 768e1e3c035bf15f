"""Profiles: one's own (GET/PATCH /auth/me/profile) and anyone's public one, and the
events that carry a change to the other services."""

from __future__ import annotations

import pytest

from chore_common.testing.nats import NatsServer

from .helpers import Client, bearer, event_of, login, register

pytestmark = pytest.mark.db


async def test_a_profile_edit_is_saved_shown_and_announced(
    auth: Client, nats_server: NatsServer
) -> None:
    account = await register(auth, role="tasker")
    headers = bearer((await login(auth, account))["access_token"])
    patch = {
        "name": "Sam Tasker",
        "bio": "I fix things.",
        "skills": ["plumbing", "handyman"],
        "avatar_url": "https://cdn.example.com/sam.png",
        "city": "Lyon",
    }
    resp = await auth.patch("/auth/me/profile", json=patch, headers=headers)
    assert resp.status == 200, await resp.text()
    mine = await (await auth.get("/auth/me/profile", headers=headers)).json()
    assert mine["email"] == account.email
    assert mine["email_verified"] is False
    # Skills come back in the fixed list's order, whatever order they were sent in.
    assert (mine["name"], mine["skills"], mine["city"]) == (
        "Sam Tasker",
        ["handyman", "plumbing"],
        "Lyon",
    )

    public = await (await auth.get(f"/auth/users/{account.id}")).json()
    assert public["name"] == "Sam Tasker"
    assert public["bio"] == "I fix things."
    assert public["avatar_url"] == "https://cdn.example.com/sam.png"
    assert "member_since" in public
    assert "email" not in public
    assert account.email not in str(public)

    [updated] = await event_of(nats_server.url, "auth.user.profile_updated", account.id)
    assert updated.data["name"] == "Sam Tasker"
    assert updated.data["skills"] == ["handyman", "plumbing"]
    assert updated.data["city"] == "Lyon"
    # A new name changes the mail notifier's address book too (sign-up made the first).
    contacts = await event_of(nats_server.url, "auth.user.contact_changed", account.id, 2)
    assert [c.data["name"] for c in contacts] == ["Pat Doe", "Sam Tasker"]


@pytest.mark.parametrize(
    ("patch", "code"),
    [
        ({"bio": "x" * 1001}, "validation_failed"),
        ({"skills": ["juggling"]}, "unknown_skill"),
        ({"avatar_url": "http://cdn.example.com/a.png"}, "invalid_avatar_url"),
        ({"avatar_url": "javascript:alert(1)"}, "invalid_avatar_url"),
        ({"name": "   "}, "validation_failed"),
        ({"email": "x@example.com"}, "validation_failed"),
    ],
)
async def test_a_bad_profile_field_is_422_and_changes_nothing(
    auth: Client, patch: dict[str, object], code: str
) -> None:
    account = await register(auth)
    headers = bearer((await login(auth, account))["access_token"])
    before = await (await auth.get("/auth/me/profile", headers=headers)).json()
    resp = await auth.patch("/auth/me/profile", json={"city": "Paris", **patch}, headers=headers)
    assert resp.status == 422
    assert (await resp.json())["code"] == code
    assert await (await auth.get("/auth/me/profile", headers=headers)).json() == before


async def test_an_unknown_or_malformed_user_is_404(auth: Client) -> None:
    for user_id in ("00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        resp = await auth.get(f"/auth/users/{user_id}")
        assert resp.status == 404
        assert (await resp.json())["code"] == "user_not_found"


async def test_the_profile_needs_a_live_session(auth: Client) -> None:
    assert (await auth.get("/auth/me/profile")).status == 401
    account = await register(auth)
    token = (await login(auth, account))["access_token"]
    await auth.post("/auth/logout", headers=bearer(token))
    resp = await auth.patch("/auth/me/profile", json={"city": "Oslo"}, headers=bearer(token))
    assert resp.status == 401
