"""/docs: one page over every routed service's OpenAPI document, nothing loaded from elsewhere."""

from __future__ import annotations

import re

from .conftest import StartGateway, StartUpstream


async def test_docs_page_lists_the_services_and_loads_only_local_assets(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    auth, tasks = await start_upstream("auth"), await start_upstream("tasks")
    gw = await start_gateway({"auth": [auth], "tasks": [tasks]})
    resp = await gw.get("/docs")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    html = await resp.text()
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.I), "external URL"
    assert '"/docs/auth.json"' in html
    assert '"/docs/tasks.json"' in html
    for asset in re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', html):
        got = await gw.get(asset)
        assert got.status == 200, asset
        assert len(await got.read()) > 0

    doc = await (await gw.get("/docs/tasks.json")).json()
    assert doc["info"]["title"] == "tasks"
    assert "/tasks/echo" in doc["paths"]
    assert "servers" not in doc  # "Try it out" stays on the gateway's origin


async def test_docs_leave_out_the_paths_the_gateway_does_not_forward(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    tasks = await start_upstream("tasks")
    gw = await start_gateway({"tasks": [tasks]}, internal_paths=["/tasks/echo"])
    doc = await (await gw.get("/docs/tasks.json")).json()
    assert "/tasks/echo" not in doc["paths"]  # "Try it out" would only meet a 404


async def test_docs_of_an_unknown_or_unreachable_service(start_gateway: StartGateway) -> None:
    from chore_common.testing.nats import free_port

    gw = await start_gateway({"tasks": [f"http://127.0.0.1:{free_port()}"]})
    assert (await gw.get("/docs/nosuch.json")).status == 404
    resp = await gw.get("/docs/tasks.json")
    assert resp.status == 503
    assert resp.headers["Retry-After"]


async def test_docs_page_tells_the_browser_to_load_from_the_gateway_only(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    gw = await start_gateway({"tasks": [await start_upstream("tasks")]})
    csp = (await gw.get("/docs")).headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "connect-src 'self'" in csp
    assert "script-src 'self' 'sha256-" in csp  # the one inline script, by its hash
    # Only the files the page loads are served, not the rest of the wheel.
    assert (await gw.get("/docs/assets/swagger-ui-bundle.js")).status == 200
    assert (await gw.get("/docs/assets/swagger-editor-bundle.js")).status == 404
    assert (await gw.get("/docs/assets/oauth2-redirect.html")).status == 404
