"""GET /me/export on the gateway: each pool's part, asked with the caller's token and nested
under its service; a refusal passed on; a part missing makes it 503, never a partial one."""

from __future__ import annotations

import pytest

from .conftest import StartGateway, StartUpstream

pytestmark = pytest.mark.timeout(60)
BEARER = {"Authorization": "Bearer t0ken", "X-Request-ID": "export-1", "Cookie": "a=b"}


async def test_the_parts_are_nested_under_their_services(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    auth, tasks, messaging = [await start_upstream(n) for n in ("auth", "tasks", "messaging")]
    gw = await start_gateway({"auth": [auth], "tasks": [tasks], "messaging": [messaging]})

    resp = await gw.get("/me/export", headers=BEARER)
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    assert set(body) == {"exported_at", "services"}
    assert {name: part["service"] for name, part in body["services"].items()} == {
        "auth": "auth",
        "tasks": "tasks",
        "messaging": "messaging",
    }
    sent = body["services"]["tasks"]["headers"]
    assert sent["Authorization"] == "Bearer t0ken"
    assert sent["X-Request-ID"] == "export-1"
    assert "Cookie" not in sent  # only who asks crosses, nothing else of the client's


async def test_a_refusal_is_passed_on_as_the_service_gave_it(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    auth, tasks = await start_upstream("auth"), await start_upstream("tasks")
    gw = await start_gateway({"auth": [auth], "tasks": [tasks]})

    resp = await gw.get("/me/export")
    assert resp.status == 401
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert (await resp.json())["upstream"] == "auth"  # auth's answer first


@pytest.mark.parametrize("fault", ["failing", "stopped", "late"])
async def test_a_missing_part_makes_the_whole_export_503(
    start_upstream: StartUpstream, start_gateway: StartGateway, fault: str
) -> None:
    auth, tasks = await start_upstream("auth"), await start_upstream("tasks")
    gw = await start_gateway({"auth": [auth], "tasks": [tasks]}, export_timeout_s=1)
    if fault == "failing":
        tasks.failing = True
    elif fault == "late":
        tasks.delay_s = 3
    else:
        await tasks.stop()

    resp = await gw.get("/me/export", headers=BEARER)
    assert resp.status == 503
    problem = await resp.json()
    assert problem["code"] == "export_incomplete"
    assert "services" not in problem


async def test_exports_spend_the_clients_rate_limit_like_proxied_requests(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    auth, tasks = await start_upstream("auth"), await start_upstream("tasks")
    # One token back every 100 s: nothing refills while the test runs.
    gw = await start_gateway(
        {"auth": [auth], "tasks": [tasks]}, rate_limit_rps=0.01, rate_limit_burst=3
    )

    assert (await gw.get("/tasks/echo")).status == 200
    resp = await gw.get("/me/export", headers=BEARER)
    assert resp.status == 200
    assert resp.headers["RateLimit-Policy"] == '"default";q=3;w=300'
    assert resp.headers["RateLimit"].startswith('"default";r=1;')
    assert (await gw.get("/me/export", headers=BEARER)).status == 200
    asked = (auth.arrived, tasks.arrived)

    # The bucket is empty for exports and proxied requests alike.
    for path in ("/me/export", "/tasks/echo"):
        resp = await gw.get(path, headers=BEARER)
        assert resp.status == 429
        assert resp.headers["Content-Type"].startswith("application/problem+json")
        assert int(resp.headers["Retry-After"]) >= 1
        assert resp.headers["RateLimit"].startswith('"default";r=0;')
        assert (await resp.json())["code"] == "rate_limited"
    assert (auth.arrived, tasks.arrived) == asked  # no service was asked for the refused ones


async def test_a_browser_apps_preflight_for_the_export_is_answered_with_cors_on(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    auth, tasks = await start_upstream("auth"), await start_upstream("tasks")
    app, evil = "https://app.example.com", "https://evil.example"
    gw = await start_gateway({"auth": [auth], "tasks": [tasks]}, cors_origins=[app])
    preflight = {
        "Origin": app,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }

    resp = await gw.options("/me/export", headers=preflight)
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == app
    assert "GET" in resp.headers["Access-Control-Allow-Methods"].split(", ")
    assert "authorization" in resp.headers["Access-Control-Allow-Headers"].split(", ")
    assert "Origin" in resp.headers["Vary"]
    resp = await gw.options("/me/export", headers={**preflight, "Origin": evil})
    assert resp.status == 403
    assert (await resp.json())["code"] == "cors_refused"
    assert "Access-Control-Allow-Origin" not in resp.headers
    # The export itself, asked from the app, carries the CORS headers.
    resp = await gw.get("/me/export", headers={**BEARER, "Origin": app})
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == app
    # An OPTIONS that is no preflight: the route is GET only, as without CORS.
    resp = await gw.options("/me/export")
    assert resp.status == 405
    assert resp.headers["Allow"] == "GET"
    assert (auth.arrived, tasks.arrived) == (1, 1)


async def test_without_cors_the_export_has_no_preflight(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    auth = await start_upstream("auth")
    gw = await start_gateway({"auth": [auth]})
    resp = await gw.options(
        "/me/export",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
    )
    assert resp.status == 405
    assert "Access-Control-Allow-Origin" not in resp.headers
