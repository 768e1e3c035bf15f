"""SPEC auth table, sessions: refresh rotation and reuse, logout, list/revoke, introspect,
JWKS — over real HTTP, a real database and a real nats-server."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest

from .helpers import Client, bearer, login, register

pytestmark = pytest.mark.db


async def test_refresh_rotates_to_a_new_pair_for_the_same_session(auth: Client) -> None:
    account = await register(auth)
    first = await login(auth, account)
    resp = await auth.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    second = await resp.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    me = await auth.get("/auth/me", headers=bearer(second["access_token"]))
    assert me.status == 200
    sessions = await (
        await auth.get("/auth/sessions", headers=bearer(second["access_token"]))
    ).json()
    assert len(sessions["items"]) == 1


async def test_a_used_refresh_token_presented_again_revokes_the_whole_session(
    start_auth: Callable[..., Awaitable[Client]],
) -> None:
    auth = await start_auth(refresh_reuse_grace_s=0)
    account = await register(auth)
    first = await login(auth, account)
    rotated = await (
        await auth.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()

    reuse = await auth.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status == 401
    assert (await reuse.json())["code"] == "invalid_refresh_token"
    # Everything the session holds is dead: the newest refresh token and its access token.
    child = await auth.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert child.status == 401
    me = await auth.get("/auth/me", headers=bearer(rotated["access_token"]))
    assert me.status == 401
    assert (await me.json())["code"] == "session_revoked"


async def test_a_retry_within_the_grace_gets_a_pair_and_keeps_the_session(
    start_auth: Callable[..., Awaitable[Client]],
) -> None:
    auth = await start_auth(refresh_reuse_grace_s=30)
    account = await register(auth)
    first = await login(auth, account)
    one = await auth.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    retry = await auth.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert (one.status, retry.status) == (200, 200)
    for pair in (await one.json(), await retry.json()):
        assert (await auth.get("/auth/me", headers=bearer(pair["access_token"]))).status == 200


async def test_an_unknown_refresh_token_is_401(auth: Client) -> None:
    resp = await auth.post("/auth/refresh", json={"refresh_token": "rt_" + "x" * 43})
    assert resp.status == 401
    assert (await resp.json())["code"] == "invalid_refresh_token"


async def test_logout_revokes_the_current_session_only(auth: Client) -> None:
    account = await register(auth)
    phone = await login(auth, account)
    laptop = await login(auth, account)
    resp = await auth.post("/auth/logout", headers=bearer(phone["access_token"]))
    assert resp.status == 204
    assert (await auth.get("/auth/me", headers=bearer(phone["access_token"]))).status == 401
    refresh = await auth.post("/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert refresh.status == 401
    assert (await auth.get("/auth/me", headers=bearer(laptop["access_token"]))).status == 200


async def test_sessions_lists_mine_and_deleting_one_revokes_it(auth: Client) -> None:
    account = await register(auth)
    phone = await login(auth, account, **{"User-Agent": "phone/1.0"})
    laptop = await login(auth, account, **{"User-Agent": "laptop/2.0"})
    listed = await (await auth.get("/auth/sessions", headers=bearer(laptop["access_token"]))).json()
    assert listed["next_cursor"] is None
    assert [s["user_agent"] for s in listed["items"]] == ["laptop/2.0", "phone/1.0"]
    assert [s["current"] for s in listed["items"]] == [True, False]

    phone_id = listed["items"][1]["id"]
    resp = await auth.delete(f"/auth/sessions/{phone_id}", headers=bearer(laptop["access_token"]))
    assert resp.status == 204
    assert (await auth.get("/auth/me", headers=bearer(phone["access_token"]))).status == 401
    listed = await (await auth.get("/auth/sessions", headers=bearer(laptop["access_token"]))).json()
    assert [s["user_agent"] for s in listed["items"]] == ["laptop/2.0"]


async def test_sessions_are_paged_with_a_cursor(auth: Client) -> None:
    account = await register(auth)
    tokens = [await login(auth, account) for _ in range(3)]
    headers = bearer(tokens[-1]["access_token"])
    first = await (await auth.get("/auth/sessions?limit=2", headers=headers)).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = await (
        await auth.get(f"/auth/sessions?limit=2&cursor={first['next_cursor']}", headers=headers)
    ).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    ids = [s["id"] for s in first["items"] + rest["items"]]
    assert len(set(ids)) == 3


async def test_nobody_can_revoke_another_users_session(auth: Client) -> None:
    alice, bob = await register(auth), await register(auth)
    alice_tokens, bob_tokens = await login(auth, alice), await login(auth, bob)
    bob_sessions = await (
        await auth.get("/auth/sessions", headers=bearer(bob_tokens["access_token"]))
    ).json()
    target = bob_sessions["items"][0]["id"]
    for session_id in (target, str(uuid.uuid4()), "not-a-uuid"):
        resp = await auth.delete(
            f"/auth/sessions/{session_id}", headers=bearer(alice_tokens["access_token"])
        )
        assert resp.status == 404
        assert (await resp.json())["code"] == "session_not_found"
    assert (await auth.get("/auth/me", headers=bearer(bob_tokens["access_token"]))).status == 200


async def test_introspect_says_active_with_the_claims_until_the_session_ends(
    auth: Client,
) -> None:
    account = await register(auth, role="tasker")
    tokens = await login(auth, account)
    resp = await auth.post("/auth/introspect", json={"token": tokens["access_token"]})
    assert resp.status == 200
    body = await resp.json()
    assert body["active"] is True
    assert (body["sub"], body["role"]) == (account.id, "tasker")
    assert set(body) == {"active", "sub", "sid", "role", "exp"}

    await auth.post("/auth/logout", headers=bearer(tokens["access_token"]))
    after = await (
        await auth.post("/auth/introspect", json={"token": tokens["access_token"]})
    ).json()
    assert after == {"active": False}
    junk = await (await auth.post("/auth/introspect", json={"token": "a.b.c"})).json()
    assert junk == {"active": False}


async def test_jwks_publishes_the_key_that_signed_the_token(auth: Client) -> None:
    account = await register(auth)
    tokens = await login(auth, account)
    resp = await auth.get("/auth/.well-known/jwks.json")
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "public, max-age=300"
    keys = (await resp.json())["keys"]
    from .test_accounts import jwt_parts

    kid = jwt_parts(tokens["access_token"])[0]["kid"]
    assert [k["kid"] for k in keys] == [kid]
    assert keys[0]["kty"] == "OKP"
    assert keys[0]["crv"] == "Ed25519"
    assert keys[0]["alg"] == "EdDSA"
    assert "d" not in keys[0]  # never the private part


async def test_the_openapi_document_lists_every_auth_route(auth: Client) -> None:
    doc = await (await auth.get("/openapi.json")).json()
    assert set(doc["paths"]) >= {
        "/auth/register",
        "/auth/login",
        "/auth/refresh",
        "/auth/logout",
        "/auth/me",
        "/auth/sessions",
        "/auth/sessions/{session_id}",
        "/auth/introspect",
        "/auth/.well-known/jwks.json",
    }
