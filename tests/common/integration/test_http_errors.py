"""Every error leaves as RFC 9457 problem+json, exactly as SPEC.md "HTTP conventions" says."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from chore_common.errors import (
    Conflict,
    DomainError,
    Forbidden,
    PreconditionFailed,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from chore_common.testing.demo_app import DemoSettings, create_app

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "request_id"}


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = create_app(DemoSettings(max_body_bytes=1024))

    raised: dict[str, DomainError] = {
        "conflict": Conflict("Task is completed.", code="invalid_transition"),
        "forbidden": Forbidden("Not a participant."),
        "unauthorized": Unauthorized("Token expired.", code="token_expired"),
        "stale": PreconditionFailed("Version 3 is stale."),
        "limited": RateLimited("Slow down.", retry_after=7),
        "down": Unavailable("Database unreachable.", retry_after=2),
    }

    async def raise_domain(request: web.Request) -> web.Response:
        raise raised[request.match_info["kind"]]

    app.router.add_get("/raise/{kind}", raise_domain)
    async with TestClient(TestServer(app)) as client:
        yield client


async def problem(response: ClientResponse) -> dict[str, object]:
    assert response.content_type == "application/problem+json"
    body = await response.json(content_type=None)
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == response.status
    assert body["request_id"] == response.headers["X-Request-ID"]
    return dict(body)


async def test_malformed_json_is_400(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.post(
        "/items", data=b'{"name": "broom",', headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    body = await problem(response)
    assert body["code"] == "malformed_json"
    assert body["type"] == "https://chore.dev/problems/malformed_json"


async def test_body_over_the_limit_is_413(client: TestClient[web.Request, web.Application]) -> None:
    big = json.dumps({"name": "x" * 4000}).encode()
    response = await client.post("/items", data=big, headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert (await problem(response))["code"] == "body_too_large"


async def test_a_body_that_does_not_decode_as_its_content_encoding_is_400(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post(
        "/items",
        data=b'{"name": "broom"}',  # not gzip, whatever the header says
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status == 400
    assert (await problem(response))["code"] == "malformed_body"


async def test_a_body_that_is_not_json_is_415(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post("/items", data="name=broom")
    assert response.status == 415
    assert (await problem(response))["code"] == "unsupported_media_type"


async def test_validation_failure_is_422_with_a_field_list_and_no_echoed_input(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post(
        "/items", json={"quantity": 0, "colour": "red", "password": 12345678901}
    )
    assert response.status == 422
    body = await problem(response)
    assert body["code"] == "validation_failed"
    errors = body["errors"]
    assert isinstance(errors, list)
    by_field = {e["field"]: e for e in errors}
    assert by_field.keys() == {"name", "quantity", "colour", "password"}
    assert by_field["name"]["type"] == "missing"
    assert by_field["colour"]["type"] == "extra_forbidden"
    assert all(e["in"] == "body" for e in errors)
    assert "12345678901" not in await response.text()


async def test_an_invalid_query_string_is_422(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/slow", params={"seconds": "forever"})
    assert response.status == 422
    body = await problem(response)
    assert body["errors"] == [
        {
            "in": "query",
            "field": "seconds",
            "message": "Input should be a valid number, unable to parse string as a number",
            "type": "float_parsing",
        }
    ]


async def test_unexpected_exception_is_500_without_stack_trace(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/boom")
    assert response.status == 500
    body = await problem(response)
    assert body["code"] == "internal_error"
    text = await response.text()
    assert "Traceback" not in text
    assert "RuntimeError" not in text
    assert "demo failure" not in text


async def test_not_found_from_the_domain_is_404_with_its_code(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/items/nope")
    assert response.status == 404
    assert (await problem(response))["code"] == "item_not_found"


async def test_unknown_route_is_a_404_problem(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/no/such/route")
    assert response.status == 404
    assert (await problem(response))["code"] == "not_found"


async def test_wrong_method_is_a_405_problem_that_keeps_allow(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.delete("/items")
    assert response.status == 405
    assert (await problem(response))["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize(
    ("kind", "status", "code", "header"),
    [
        ("conflict", 409, "invalid_transition", None),
        ("forbidden", 403, "forbidden", None),
        ("unauthorized", 401, "token_expired", ("WWW-Authenticate", "Bearer")),
        ("stale", 412, "precondition_failed", None),
        ("limited", 429, "rate_limited", ("Retry-After", "7")),
        ("down", 503, "unavailable", ("Retry-After", "2")),
    ],
)
async def test_domain_errors_map_to_their_status_in_one_table(
    client: TestClient[web.Request, web.Application],
    kind: str,
    status: int,
    code: str,
    header: tuple[str, str] | None,
) -> None:
    response = await client.get(f"/raise/{kind}")
    assert response.status == status
    body = await problem(response)
    assert body["code"] == code
    if header is not None:
        assert response.headers[header[0]] == header[1]


async def test_a_valid_body_creates_and_the_item_reads_back(
    client: TestClient[web.Request, web.Application],
) -> None:
    created = await client.post("/items", json={"name": "broom", "quantity": 2})
    assert created.status == 201
    item = await created.json()
    fetched = await client.get(f"/items/{item['id']}")
    assert fetched.status == 200
    assert await fetched.json() == {"id": item["id"], "name": "broom", "quantity": 2}
