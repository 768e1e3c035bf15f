"""The JWKS cache over real HTTP, and the bearer middleware in front of real routes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic_settings import SettingsConfigDict

from chore_common.auth import (
    VERIFIER,
    InvalidToken,
    JwksCache,
    StaticKeys,
    TokenVerifier,
    bearer_middleware,
    principal,
    public_jwk,
    requires,
    thumbprint,
)
from chore_common.http.app import create_service_app
from chore_common.http.openapi import ApiRoutes
from chore_common.settings import ServiceSettings
from chore_common.testing.nats import free_port

ISS, AUD = "chore-auth", "chore-platform"


@dataclass
class FakeAuth:
    """A JWKS endpoint serving whatever keys the test puts in it, counting requests."""

    keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    requests: int = 0
    up: bool = True

    def add_key(self) -> str:
        key = Ed25519PrivateKey.generate()
        kid = thumbprint(key.public_key())
        self.keys[kid] = key
        return kid

    def token(self, kid: str, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "sub": str(uuid.uuid4()),
            "sid": str(uuid.uuid4()),
            "role": "client",
            "iat": now,
            "exp": now + 900,
            "iss": ISS,
            "aud": AUD,
            "jti": str(uuid.uuid4()),
            **claims,
        }
        return jwt.encode(payload, self.keys[kid], algorithm="EdDSA", headers={"kid": kid})

    async def handler(self, request: web.Request) -> web.Response:
        self.requests += 1
        if not self.up:
            return web.Response(status=503)
        return web.json_response(
            {"keys": [public_jwk(k.public_key(), kid) for kid, k in self.keys.items()]}
        )


@pytest.fixture
async def fake_auth() -> AsyncIterator[tuple[FakeAuth, str]]:
    auth = FakeAuth()
    app = web.Application()
    app.router.add_get("/jwks.json", auth.handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield auth, str(server.make_url("/jwks.json"))
    await server.close()


async def test_keys_are_fetched_once_and_served_from_the_cache(
    fake_auth: tuple[FakeAuth, str],
) -> None:
    auth, url = fake_auth
    kid = auth.add_key()
    cache = JwksCache(url)
    await cache.start()
    try:
        verifier = TokenVerifier(cache, issuer=ISS, audience=AUD)
        for _ in range(20):
            await verifier.verify(auth.token(kid))
        assert auth.requests == 1
    finally:
        await cache.close()


async def test_an_unknown_kid_refreshes_the_set_and_then_verifies(
    fake_auth: tuple[FakeAuth, str],
) -> None:
    auth, url = fake_auth
    auth.add_key()
    cache = JwksCache(url, min_refresh_interval_s=0)
    await cache.start()
    try:
        new_kid = auth.add_key()
        claims = await TokenVerifier(cache, issuer=ISS, audience=AUD).verify(auth.token(new_kid))
        assert claims.kid == new_kid
        assert auth.requests == 2
    finally:
        await cache.close()


async def test_a_flood_of_unknown_kids_costs_auth_one_request_per_interval(
    fake_auth: tuple[FakeAuth, str],
) -> None:
    auth, url = fake_auth
    auth.add_key()
    cache = JwksCache(url, min_refresh_interval_s=60)
    await cache.start()
    stranger = FakeAuth()
    try:
        verifier = TokenVerifier(cache, issuer=ISS, audience=AUD)
        tokens = [stranger.token(stranger.add_key()) for _ in range(50)]
        results = await asyncio.gather(
            *(verifier.verify(t) for t in tokens), return_exceptions=True
        )
        assert all(isinstance(r, InvalidToken) for r in results)
        assert auth.requests == 1  # the start-up fetch only: the interval has not passed
    finally:
        await cache.close()


async def test_concurrent_misses_share_one_refresh(fake_auth: tuple[FakeAuth, str]) -> None:
    auth, url = fake_auth
    cache = JwksCache(url, min_refresh_interval_s=0)
    kid = auth.add_key()  # never fetched yet: every verify below misses at once
    verifier = TokenVerifier(cache, issuer=ISS, audience=AUD)
    try:
        await asyncio.gather(*(verifier.verify(auth.token(kid)) for _ in range(20)))
        assert auth.requests == 1
    finally:
        await cache.close()


async def test_a_key_auth_stops_publishing_stops_verifying(fake_auth: tuple[FakeAuth, str]) -> None:
    auth, url = fake_auth
    old, new = auth.add_key(), auth.add_key()
    cache = JwksCache(url)
    await cache.start()
    try:
        signed_before = auth.token(old)
        verifier = TokenVerifier(cache, issuer=ISS, audience=AUD)
        await verifier.verify(signed_before)
        del auth.keys[old]
        await cache.refresh()
        await verifier.verify(auth.token(new))
        with pytest.raises(InvalidToken):
            verifier.verify_cached(signed_before)
    finally:
        await cache.close()


async def test_auth_being_down_refuses_new_kids_but_keeps_known_ones(
    fake_auth: tuple[FakeAuth, str],
) -> None:
    auth, url = fake_auth
    known = auth.add_key()
    cache = JwksCache(url, min_refresh_interval_s=0)
    await cache.start()
    try:
        auth.up = False
        verifier = TokenVerifier(cache, issuer=ISS, audience=AUD)
        await verifier.verify(auth.token(known))
        with pytest.raises(InvalidToken):
            await verifier.verify(auth.token(auth.add_key()))
    finally:
        await cache.close()


async def test_the_next_auth_replica_answers_when_the_first_is_down(
    fake_auth: tuple[FakeAuth, str],
) -> None:
    auth, url = fake_auth
    kid = auth.add_key()
    dead = f"http://127.0.0.1:{free_port()}/jwks.json"  # nothing listens there
    cache = JwksCache(f"{dead}, {url}")
    await cache.start()
    try:
        claims = await TokenVerifier(cache, issuer=ISS, audience=AUD).verify(auth.token(kid))
        assert claims.kid == kid
        assert cache.url == url  # later refreshes start with the replica that answered
    finally:
        await cache.close()


async def test_with_no_keys_yet_auth_coming_back_is_noticed_within_a_fraction_of_a_second(
    fake_auth: tuple[FakeAuth, str],
) -> None:
    auth, url = fake_auth
    kid = auth.add_key()
    auth.up = False
    cache = JwksCache(url, min_refresh_interval_s=1.0)
    await cache.start()  # auth is down: no keys
    verifier = TokenVerifier(cache, issuer=ISS, audience=AUD)
    try:
        with pytest.raises(InvalidToken):
            await verifier.verify(auth.token(kid))
        auth.up = True
        started = time.monotonic()
        while True:
            try:
                await verifier.verify(auth.token(kid))
                break
            except InvalidToken:
                assert time.monotonic() - started < 0.5, "still refused half a second later"
                await asyncio.sleep(0.02)
    finally:
        await cache.close()


# -- the bearer middleware over real HTTP ---------------------------------------------------


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore")
    service_name: ClassVar[str] = "demo"


routes = ApiRoutes()


@routes.get("/private")
async def private(request: web.Request) -> web.Response:
    who = principal(request)
    return web.json_response({"user_id": str(who.user_id), "role": who.role})


@routes.post("/clients-only", status=201)
@requires("client", "admin")
async def clients_only(request: web.Request) -> web.Response:
    return web.json_response({"ok": True}, status=201)


@routes.get("/public", auth=False)
async def public(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@pytest.fixture
async def demo() -> AsyncIterator[tuple[TestClient[web.Request, web.Application], FakeAuth]]:
    auth = FakeAuth()
    kid = auth.add_key()
    app = create_service_app(DemoSettings(), title="demo")
    app.add_routes(routes)
    app.middlewares.append(bearer_middleware)
    app[VERIFIER] = TokenVerifier(
        StaticKeys({kid: auth.keys[kid].public_key()}), issuer=ISS, audience=AUD
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, auth


async def test_a_gated_route_gives_the_handler_a_typed_principal(demo: Any) -> None:
    client, auth = demo
    user_id = str(uuid.uuid4())
    token = auth.token(next(iter(auth.keys)), sub=user_id, role="tasker")
    resp = await client.get("/private", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    assert await resp.json() == {"user_id": user_id, "role": "tasker"}


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-jwt"]
)
async def test_a_missing_or_bad_token_is_401_problem_json(
    demo: Any, authorization: str | None
) -> None:
    client, _ = demo
    headers = {"Authorization": authorization} if authorization else {}
    resp = await client.get("/private", headers=headers)
    assert resp.status == 401
    assert resp.content_type == "application/problem+json"
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    body = await resp.json()
    assert body["status"] == 401
    assert body["request_id"]


async def test_a_role_gate_refuses_other_roles_with_403(demo: Any) -> None:
    client, auth = demo
    kid = next(iter(auth.keys))
    tasker = {"Authorization": f"Bearer {auth.token(kid, role='tasker')}"}
    resp = await client.post("/clients-only", headers=tasker)
    assert resp.status == 403
    assert (await resp.json())["code"] == "wrong_role"
    client_ = {"Authorization": f"Bearer {auth.token(kid, role='client')}"}
    assert (await client.post("/clients-only", headers=client_)).status == 201


async def test_open_routes_and_health_need_no_token(demo: Any) -> None:
    client, _ = demo
    assert (await client.get("/public")).status == 200
    assert (await client.get("/healthz")).status == 200


async def test_a_websocket_style_token_in_sec_websocket_protocol_is_accepted(demo: Any) -> None:
    client, auth = demo
    token = auth.token(next(iter(auth.keys)))
    resp = await client.get("/private", headers={"Sec-WebSocket-Protocol": f"bearer, {token}"})
    assert resp.status == 200


async def test_head_passes_the_same_gate_as_get(demo: Any) -> None:
    client, auth = demo
    headers = {"Authorization": f"Bearer {auth.token(next(iter(auth.keys)))}"}
    got = await client.get("/private", headers=headers)
    head = await client.head("/private", headers=headers)
    assert (got.status, head.status) == (200, 200)
    assert head.headers["Content-Length"] == got.headers["Content-Length"]
    assert await head.read() == b""
    refused = await client.head("/private")
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert (await client.head("/public")).status == 200
