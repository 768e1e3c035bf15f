"""One client's bad input, on the running platform: that client gets a clean 4xx
(problem+json), nobody gets a 5xx, and no other user's request fails because of it."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .helpers import RunningPlatform, chat_between, demo

pytestmark = [pytest.mark.system, pytest.mark.timeout(240)]

PROBLEM = "application/problem+json"
SERVICES = ("auth", "tasks", "messaging")
# Ahead of UTC by 23:59 at the very end of year 9999: year 10000 once in UTC.
BEYOND_9999 = "9999-12-31T23:59:59-23:59"


def cursor(position: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).rstrip(b"=").decode()


TAMPERED_CURSORS = {
    "naive datetime": cursor({"t": "2030-01-01T00:00:00", "i": str(uuid.uuid4())}),
    "offset past 9999": cursor({"t": BEYOND_9999, "i": str(uuid.uuid4())}),
    "offset before year 1": cursor({"t": "0001-01-01T00:00:00+23:59", "i": str(uuid.uuid4())}),
    "not a uuid": cursor({"t": "2030-01-01T00:00:00Z", "i": "x"}),
    "a list": cursor([1, 2]),
    "garbage": "!!not-base64!!",
    "huge": "A" * 5000,
}


async def admin_token(platform: RunningPlatform, api: Any) -> str:
    login = json.loads((platform.var_dir / "admin.json").read_text())
    tokens = await api.call("POST", "/auth/login", json_body=login, expect=(200,))
    return str(tokens["access_token"])


async def list_operations(session: aiohttp.ClientSession, base: str) -> list[str]:
    """Every GET that pages with `cursor`, from each service's OpenAPI as the gateway serves it."""
    found = []
    for service in SERVICES:
        async with session.get(f"{base}/docs/{service}.json") as response:
            assert response.status == 200, service
            document = await response.json()
        for path, operations in document["paths"].items():
            get = operations.get("get", {})
            if any(p["name"] == "cursor" for p in get.get("parameters", ())):
                found.append(path)
    return found


async def test_a_tampered_cursor_is_422_invalid_cursor_on_every_list_endpoint(
    platform: RunningPlatform, api: Any, session: aiohttp.ClientSession, tag: str
) -> None:
    ann, _bob, task_id, conv_id = await chat_between(api, tag)
    admin = await admin_token(platform, api)
    paths = await list_operations(session, platform.url)
    assert {"/tasks", "/tasks/{task_id}/offers", "/tasks/admin/jobs", "/auth/sessions",
            "/messaging/conversations", "/messaging/notifications"} <= set(paths)  # fmt: skip
    answers: dict[tuple[str, str], tuple[int, str, str | None]] = {}
    for path in paths:
        token = admin if "/admin/" in path else ann.token
        ids = {"{task_id}": task_id, "{user_id}": ann.id, "{conversation_id}": conv_id}
        concrete = path
        for name, value in ids.items():
            concrete = concrete.replace(name, str(value))
        assert "{" not in concrete, f"no value for the path parameters of {path}"
        for name, value in TAMPERED_CURSORS.items():
            async with session.get(
                f"{platform.url}{concrete}",
                params={"cursor": value},
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                body = await response.json(content_type=None)
                answers[path, name] = (response.status, response.content_type, body.get("code"))
    wrong = {k: v for k, v in answers.items() if v != (422, PROBLEM, "invalid_cursor")}
    assert not wrong, wrong
    # An honest cursor still pages: nothing above is refused for merely being a cursor.
    first = await api.call("GET", "/auth/sessions?limit=1", token=ann.token)
    assert first["items"]


async def test_four_poisoned_posts_among_36_good_ones_fail_alone(api: Any, tag: str) -> None:
    ann = await demo.log_in(api, await demo.sign_up(api, "Ann", "client", tag))
    eve = await demo.log_in(api, await demo.sign_up(api, "Eve", "client", tag))

    async def post(token: str, body: dict[str, Any]) -> tuple[int, Any]:
        try:
            return 201, await api.call("POST", "/tasks", token=token, json_body=body)
        except demo.ApiError as exc:
            return exc.status, exc.body

    good = [{"title": f"Chore {n}", "category": "garden", "budget_cents": 900 + n}
            for n in range(36)]  # fmt: skip
    poisoned = {"title": "x", "category": "garden", "budget_cents": 1, "due_at": BEYOND_9999}
    posts = [post(ann.token, body) for body in good]
    for n in range(4):  # spread among the good ones, so they share batches
        posts.insert(n * 9 + 4, post(eve.token, poisoned))
    results = await asyncio.gather(*posts)
    statuses = [status for status, _ in results]
    assert statuses.count(201) == 36, statuses
    assert statuses.count(422) == 4, statuses
    refused = [body for status, body in results if status == 422]
    assert {b["code"] for b in refused} == {"validation_failed"}
    assert {e["field"] for b in refused for e in b["errors"]} == {"due_at"}
    mine = await api.call("GET", "/tasks?owner=me&limit=100", token=ann.token)
    assert len(mine["items"]) == 36


async def test_values_no_database_can_store_are_refused_at_the_edge(
    api: Any, session: aiohttp.ClientSession, tag: str
) -> None:
    ann, _bob, _task_id, conv_id = await chat_between(api, tag)
    chore = {"title": "Fix the gate", "category": "garden", "budget_cents": 1000}
    message = {"body": "hi\x00", "client_msg_id": "m1"}
    hove_nul = {"lat": 50.83, "lon": -0.17, "address": "Hove\x00"}
    history = f"/messaging/conversations/{conv_id}/messages"
    refused: list[tuple[str, str, Any, str]] = [
        ("POST", "/tasks", {**chore, "title": "Fix\x00 the gate"}, "title"),
        ("POST", "/tasks", {**chore, "location": hove_nul}, "location.address"),
        ("POST", "/tasks", {**chore, "due_at": "2030-01-01T00:00:00"}, "due_at"),
        ("POST", "/tasks", {**chore, "due_at": BEYOND_9999}, "due_at"),
        ("POST", "/tasks", {**chore, "budget_cents": 2**70}, "budget_cents"),
        ("GET", f"{history}?after_seq={2**70}", None, "after_seq"),
        ("GET", f"{history}?after_seq={2**63}", None, "after_seq"),
        ("GET", "/tasks?q=a%00b", None, "q"),
        ("GET", "/tasks?category=%00", None, "category.0"),
        ("POST", f"/messaging/conversations/{conv_id}/messages", message, "body"),
    ]
    for method, path, body, field in refused:
        async with session.request(
            method, api.url(path), json=body, headers={"Authorization": f"Bearer {ann.token}"}
        ) as response:
            answer = await response.json(content_type=None)
            assert (response.status, response.content_type) == (422, PROBLEM), (path, answer)
            assert [e["field"] for e in answer["errors"]] == [field], (path, answer)
    spaces = {"email": f"spaces+{tag}@example.com", "password": demo.PASSWORD,
              "name": "   ", "role": "client"}  # fmt: skip
    async with session.post(api.url("/auth/register"), json=spaces) as response:
        answer = await response.json(content_type=None)
        assert response.status == 422, answer
        assert [e["field"] for e in answer["errors"]] == ["name"]
    # The same requests with storable values go through.
    await api.call("POST", "/tasks", token=ann.token, json_body=chore, expect=(201,))
    last = await api.call("GET", f"{history}?after_seq={2**63 - 1}", token=ann.token)
    assert last["items"] == []


async def _hang_up_mid_body(address: str, path: str, token: str, chunked: bool) -> None:
    """Headers and part of the body, then the connection closes: a client that went away
    (or a gateway giving up on a slow upload)."""
    url = urlsplit(address)
    _, writer = await asyncio.open_connection(url.hostname, url.port)
    framing = (
        "Transfer-Encoding: chunked\r\n\r\n40\r\n" if chunked else "Content-Length: 4000\r\n\r\n"
    )
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f'Authorization: Bearer {token}\r\n{framing}{{"title": "half'.encode()
    )
    await writer.drain()
    await asyncio.sleep(0.2)  # the handler is reading the body by now
    writer.close()
    await writer.wait_closed()


async def _requests_by_status(session: aiohttp.ClientSession, address: str, route: str) -> dict:
    async with session.get(f"{address}/metrics") as response:
        text = await response.text()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "http_requests_total" and sample.labels["route"] == route:
                status = sample.labels["status"]
                counts[status] = counts.get(status, 0.0) + sample.value
    return counts


@pytest.mark.parametrize(("service", "path"), [("auth", "/auth/login"), ("tasks", "/tasks")])
async def test_a_client_hanging_up_mid_body_is_a_499_at_the_service_never_a_5xx(
    platform: RunningPlatform,
    api: Any,
    session: aiohttp.ClientSession,
    tag: str,
    service: str,
    path: str,
) -> None:
    ann = await demo.log_in(api, await demo.sign_up(api, "Ann", "client", tag))
    replicas = platform.replicas(service)
    before = [await _requests_by_status(session, r, path) for r in replicas]
    attacks = [
        _hang_up_mid_body(replica, path, ann.token, chunked=n % 2 == 1)
        for n in range(50)
        for replica in replicas
    ]
    await asyncio.gather(*attacks)
    # Everybody else is served as before, through the gateway.
    for n in range(10):
        await demo.log_in(api, ann)
        chore = {"title": f"After {n}", "category": "garden", "budget_cents": 500}
        await api.call("POST", "/tasks", token=ann.token, json_body=chore, expect=(201,))
    after = [await _requests_by_status(session, r, path) for r in replicas]
    for old, new in zip(before, after, strict=True):
        grown = {s: new[s] - old.get(s, 0.0) for s in new if new[s] != old.get(s, 0.0)}
        assert not {s for s in grown if s.startswith("5")}, grown
        assert grown.get("499", 0) >= 40, grown  # the hang-ups reached the handler
