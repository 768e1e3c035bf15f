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
