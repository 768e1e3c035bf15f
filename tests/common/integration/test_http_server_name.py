"""Every service's responses name no library or version in `Server` (create_service_app)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from chore_common.testing.demo_app import DemoSettings, create_app


async def test_server_header_names_no_version_on_answers_and_errors() -> None:
    async with TestClient(TestServer(create_app(DemoSettings()))) as client:
        for path in ("/healthz", "/openapi.json", "/no/such/path"):
            response = await client.get(path)
            assert response.headers["Server"] == "chore", path
            assert "aiohttp" not in response.headers["Server"]
