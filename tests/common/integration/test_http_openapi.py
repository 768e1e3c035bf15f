"""/openapi.json is generated from the same pydantic models that validate requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from chore_common.http.openapi import ApiRoutes, register_openapi
from chore_common.http.validation import StrictModel, json_response
from chore_common.testing.demo_app import DemoSettings, ItemIn, create_app


@pytest.fixture
async def document() -> AsyncIterator[dict[str, Any]]:
    async with TestClient(TestServer(create_app(DemoSettings()))) as client:
        response = await client.get("/openapi.json")
        assert response.status == 200
        yield await response.json()


def test_it_is_openapi_3_1_with_the_service_title(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "demo", "version": "1.0.0"}


def test_the_request_body_schema_is_the_validating_model(document: dict[str, Any]) -> None:
    post = document["paths"]["/items"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = ref.rsplit("/", 1)[-1]
    schema = document["components"]["schemas"][name]
    assert schema == ItemIn.model_json_schema(ref_template="#/components/schemas/{model}")
    assert schema["additionalProperties"] is False
    assert set(post["responses"]) >= {"201", "400", "413", "415", "422", "default"}


def test_errors_are_documented_as_problem_json(document: dict[str, Any]) -> None:
    get = document["paths"]["/items/{id}"]["get"]
    not_found = get["responses"]["404"]["content"]["application/problem+json"]["schema"]
    assert not_found == {"$ref": "#/components/schemas/Problem"}
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code", "request_id"}
    assert get["parameters"] == [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    ]


def test_query_models_become_parameters(document: dict[str, Any]) -> None:
    params = {p["name"]: p for p in document["paths"]["/items"]["get"]["parameters"]}
    assert params["limit"]["in"] == "query"
    assert params["limit"]["schema"]["maximum"] == 100
    assert params["cursor"]["required"] is False


def test_generic_page_models_get_valid_component_names(document: dict[str, Any]) -> None:
    ok = document["paths"]["/items"]["get"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"]
    name = ref.rsplit("/", 1)[-1]
    assert name.replace("_", "").replace("-", "").replace(".", "").isalnum()
    assert set(document["components"]["schemas"][name]["properties"]) == {"items", "next_cursor"}


def test_bearer_auth_is_declared_and_public_routes_opt_out(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert document["paths"]["/items"]["post"]["security"] == []


async def test_a_bare_app_gets_a_document_from_register_openapi() -> None:
    class Ping(StrictModel):
        message: str

    routes = ApiRoutes()

    @routes.get("/ping", response=Ping, summary="Say pong", tags=("misc",))
    async def ping(request: web.Request) -> web.Response:
        return json_response(Ping(message="pong"))

    app = web.Application()
    app.add_routes(routes)
    register_openapi(app, routes, title="bare", version="2.0.0")  # idempotent for mounted ones
    async with TestClient(TestServer(app)) as client:
        assert await (await client.get("/ping")).json() == {"message": "pong"}
        doc = await (await client.get("/openapi.json")).json()
    op = doc["paths"]["/ping"]["get"]
    assert op["summary"] == "Say pong"
    assert op["security"] == [{"bearerAuth": []}]
    assert "401" in op["responses"]
    assert "Ping" in doc["components"]["schemas"]
