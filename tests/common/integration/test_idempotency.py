"""`Idempotency-Key` on a tiny service over real HTTP and a real database: replays, reuse
with another body, per-user scope, concurrent duplicates and pruning."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Column, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.auth.principal import PRINCIPAL, Principal
from chore_common.db import ENGINE, create_engine, new_metadata
from chore_common.http.app import create_service_app
from chore_common.http.openapi import ApiRoutes
from chore_common.http.validation import StrictModel, parse_body
from chore_common.idempotency import middleware as idempotency
from chore_common.idempotency.middleware import idempotency_context, idempotent
from chore_common.idempotency.store import SqlIdempotencyStore
from chore_common.idempotency.table import IDEMPOTENCY as KEYS
from chore_common.idempotency.table import add_idempotency_table
from chore_common.testing.demo_app import DemoSettings

pytestmark = pytest.mark.db

Client = TestClient[web.Request, web.Application]
metadata = new_metadata()
add_idempotency_table(metadata)
THINGS = Table("things", metadata, Column("id", String(32), primary_key=True))


@web.middleware
async def caller_from_header(request: web.Request, handler: Any) -> web.StreamResponse:
    # Stands in for bearer auth (tested on its own): the caller names its user id.
    user = request.headers.get("X-Test-User")
    if user:
        request[PRINCIPAL] = Principal(uuid.UUID(user), uuid.uuid4(), "client")
    return await handler(request)


class ThingIn(StrictModel):
    name: str | None = None
    slow: float = 0
    fail: bool = False


@idempotent
async def create_thing(request: web.Request) -> web.Response:
    body = await parse_body(request, ThingIn)
    await asyncio.sleep(body.slow)
    if body.fail:
        return web.json_response({"detail": "refused"}, status=409)
    thing_id = uuid.uuid4().hex
    async with request.app[ENGINE].begin() as conn:
        await conn.execute(insert(THINGS).values(id=thing_id))
    return web.json_response(
        {"id": thing_id, "name": body.name},
        status=201,
        headers={"Location": f"/things/{thing_id}", "ETag": '"1"'},
    )


class SecretIn(StrictModel):
    name: str
    password: str


declared = ApiRoutes()


@declared.post("/secrets", body=SecretIn, status=201, auth=False)
@idempotent
async def create_secret(request: web.Request) -> web.Response:
    await parse_body(request, SecretIn)
    return web.json_response({"id": uuid.uuid4().hex}, status=201)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_engine(database_url)
    async with made.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield made
    await made.dispose()


@pytest.fixture
async def client(engine: AsyncEngine) -> AsyncIterator[Client]:
    app = create_service_app(DemoSettings(max_body_bytes=1024))
    app.middlewares.append(caller_from_header)

    async def provide_engine(app: web.Application) -> AsyncIterator[None]:
        app[ENGINE] = engine
        yield

    app.cleanup_ctx.append(provide_engine)
    app.cleanup_ctx.append(idempotency_context(lambda a: SqlIdempotencyStore(a[ENGINE])))
    app.router.add_post("/things", create_thing)
    app.add_routes(declared)
    made: Client = TestClient(TestServer(app, host="127.0.0.1"))
    await made.start_server()
    yield made
    await made.close()


async def things(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(THINGS))).scalar_one())


def headers(key: str, user: uuid.UUID | None = None) -> dict[str, str]:
    found = {"Idempotency-Key": key}
    if user is not None:
        found["X-Test-User"] = str(user)
    return found


async def test_a_repeated_key_and_body_replays_the_first_response(
    client: Client, engine: AsyncEngine
) -> None:
    user = uuid.uuid4()
    first = await client.post("/things", json={"name": "a"}, headers=headers("k-1", user))
    again = await client.post("/things", json={"name": "a"}, headers=headers("k-1", user))
    assert first.status == again.status == 201
    assert await again.json() == await first.json()
    for name in ("Location", "ETag", "Content-Type"):
        assert again.headers[name] == first.headers[name]
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await things(engine) == 1


async def test_the_same_json_with_other_spacing_and_key_order_is_the_same_body(
    client: Client, engine: AsyncEngine
) -> None:
    user = uuid.uuid4()
    first = await client.post(
        "/things",
        data='{"name": "a", "slow": 0}',
        headers={**headers("k", user), "Content-Type": "application/json"},
    )
    again = await client.post(
        "/things",
        data='{"slow":0,"name":"a"}',
        headers={**headers("k", user), "Content-Type": "application/json"},
    )
    assert (await again.json())["id"] == (await first.json())["id"]
    assert await things(engine) == 1


async def test_a_repeated_key_with_another_body_is_422(client: Client, engine: AsyncEngine) -> None:
    user = uuid.uuid4()
    await client.post("/things", json={"name": "a"}, headers=headers("k-2", user))
    other = await client.post("/things", json={"name": "b"}, headers=headers("k-2", user))
    assert other.status == 422
    assert other.content_type == "application/problem+json"
    assert (await other.json())["code"] == "idempotency_key_reused"
    assert await things(engine) == 1


async def test_two_users_with_the_same_key_do_not_collide(
    client: Client, engine: AsyncEngine
) -> None:
    one = await client.post("/things", json={"name": "a"}, headers=headers("k", uuid.uuid4()))
    two = await client.post("/things", json={"name": "a"}, headers=headers("k", uuid.uuid4()))
    assert one.status == two.status == 201
    assert (await one.json())["id"] != (await two.json())["id"]
    assert "Idempotent-Replayed" not in two.headers
    assert await things(engine) == 2


async def test_without_a_key_every_post_creates(client: Client, engine: AsyncEngine) -> None:
    for _ in range(2):
        assert (await client.post("/things", json={"name": "a"})).status == 201
    assert await things(engine) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve"])
async def test_a_malformed_key_is_400(client: Client, key: str) -> None:
    resp = await client.post(
        "/things",
        json={"name": "a"},
        headers={"Idempotency-Key": key.encode().decode("latin-1")},
    )
    assert resp.status == 400
    assert (await resp.json())["code"] == "invalid_idempotency_key"


async def test_a_key_of_255_printable_characters_is_accepted(client: Client) -> None:
    resp = await client.post("/things", json={"name": "a"}, headers=headers("~" * 255))
    assert resp.status == 201


async def test_a_refused_request_is_not_stored_so_the_key_can_be_retried(
    client: Client, engine: AsyncEngine
) -> None:
    user = uuid.uuid4()
    refused = await client.post(
        "/things", json={"name": "a", "fail": True}, headers=headers("k", user)
    )
    retried = await client.post(
        "/things", json={"name": "a", "fail": True}, headers=headers("k", user)
    )
    assert refused.status == retried.status == 409
    assert "Idempotent-Replayed" not in retried.headers
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(KEYS))).scalar_one() == 0


async def test_concurrent_requests_with_one_key_create_one_thing(
    client: Client, engine: AsyncEngine
) -> None:
    user = uuid.uuid4()
    body = {"name": "a", "slow": 0.3}
    replies = await asyncio.gather(
        *(client.post("/things", json=body, headers=headers("race", user)) for _ in range(4))
    )
    assert [r.status for r in replies] == [201] * 4
    ids = {(await r.json())["id"] for r in replies}
    assert len(ids) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in replies) == 3
    assert await things(engine) == 1


async def test_a_request_still_running_past_the_wait_gets_409_in_progress(
    client: Client, engine: AsyncEngine
) -> None:
    user = uuid.uuid4()
    body = {"name": "a", "slow": 3}
    first = asyncio.ensure_future(client.post("/things", json=body, headers=headers("k", user)))
    await asyncio.sleep(0.3)
    busy = await client.post("/things", json=body, headers=headers("k", user))
    assert busy.status == 409
    assert (await busy.json())["code"] == "idempotency_in_progress"
    assert busy.headers["Retry-After"]
    assert (await first).status == 201
    assert await things(engine) == 1


async def test_keys_older_than_a_day_are_pruned_and_run_again(
    client: Client, engine: AsyncEngine
) -> None:
    user = uuid.uuid4()
    first = await client.post("/things", json={"name": "a"}, headers=headers("old", user))
    async with engine.begin() as conn:
        await conn.execute(KEYS.update().values(created_at=datetime.now(UTC) - timedelta(hours=25)))
    later = await client.post("/things", json={"name": "a"}, headers=headers("old", user))
    assert later.status == 201
    assert "Idempotent-Replayed" not in later.headers
    assert (await later.json())["id"] != (await first.json())["id"]

    async with engine.begin() as conn:
        await conn.execute(KEYS.update().values(created_at=datetime.now(UTC) - timedelta(hours=25)))
    store = SqlIdempotencyStore(engine)
    assert await store.prune(datetime.now(UTC) - timedelta(hours=24)) == 1
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(KEYS))).scalar_one() == 0


async def test_a_keyed_body_over_the_size_limit_is_the_usual_413(client: Client) -> None:
    resp = await client.post(
        "/things", json={"name": "x" * 2000}, headers=headers("big", uuid.uuid4())
    )
    assert resp.status == 413
    assert (await resp.json())["code"] == "body_too_large"


async def test_a_body_the_declared_model_refuses_costs_no_fingerprint_and_claims_no_key(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[bytes] = []
    real = idempotency.secret_fingerprint

    def counted(body: bytes, salt: str) -> str:
        hashed.append(body)
        return real(body, salt)

    monkeypatch.setattr(idempotency, "secret_fingerprint", counted)
    for body in ({"password": "pw"}, {"name": 1, "password": "pw"}, {"x": 1}):
        resp = await client.post("/secrets", json=body, headers=headers("s-1"))
        assert resp.status == 422
        assert resp.content_type == "application/problem+json"
    malformed = {**headers("s-1"), "Content-Type": "application/json"}
    assert (await client.post("/secrets", data=b"{", headers=malformed)).status == 400
    assert (await client.post("/secrets", data=b"{}", headers=headers("s-1"))).status == 415
    assert hashed == []
    resp = await client.post(
        "/secrets", json={"name": "a", "password": "pw"}, headers=headers("s-1")
    )
    assert resp.status == 201
    assert len(hashed) == 1
