"""`/healthz` (the process answers) and `/readyz` (its dependencies answer, and it is not
shutting down). Kubernetes restarts on the first and stops routing on the second, so
`/healthz` checks nothing external: a database outage must not restart every replica.
"""

from __future__ import annotations

from aiohttp import web

from chore_common.http.problem import problem_response
from chore_common.keys import READINESS
from chore_common.telemetry.requests import request_id

_OK = b'{"status":"ok"}'


async def healthz(request: web.Request) -> web.Response:
    return web.Response(body=_OK, content_type="application/json")


async def readyz(request: web.Request) -> web.Response:
    readiness = request.app[READINESS]
    checks = await readiness.run()
    if readiness.is_ready(checks):
        return web.json_response({"status": "ready", "checks": checks})
    failing = ", ".join(f"{name}: {state}" for name, state in checks.items() if state != "ok")
    return problem_response(
        503,
        code="not_ready",
        title="Service Unavailable",
        detail=f"Not ready ({failing}).",
        request_id=request_id(),
        headers={"Retry-After": "1"},
        extra={"checks": checks},
    )
