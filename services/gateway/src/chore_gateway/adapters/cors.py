"""CORS on the wire: the preflight handler and the hook that labels every answer.

Installed only when `GATEWAY_CORS_ORIGINS` names an origin (bootstrap.py, api/routes.py):
with CORS off the gateway does none of this. What to answer is domain/cors.py's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from chore_common.http.problem import HttpProblem
from chore_gateway.adapters import metrics
from chore_gateway.domain.cors import CorsPolicy, vary_with_origin

# Upstreams do not speak CORS through the gateway: whatever of it they say is dropped, so a
# service cannot widen (or contradict) the gateway's allow-list.
_UPSTREAM_CORS: Final = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Expose-Headers",
)
PREFLIGHT: Final = web.ResponseKey("gateway.cors_preflight", bool)  # the gateway's own preflights


def response_hook(
    policy: CorsPolicy,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """`on_response_prepare`: every answer (proxied, streamed, problem, 101) gets `Vary:
    Origin`, and the CORS headers when its request came from an allowed origin."""

    async def label(request: web.Request, response: web.StreamResponse) -> None:
        if response.get(PREFLIGHT):
            return
        headers = response.headers
        for name in _UPSTREAM_CORS:
            if name in headers:
                del headers[name]
        extra = policy.response_headers(request.headers.get("Origin"))
        if extra:
            headers.extend(extra)
        headers["Vary"] = vary_with_origin(headers.get("Vary"))

    return label


def preflight_handler(policy: CorsPolicy, forward: Handler) -> Handler:
    """OPTIONS on a routed path: a preflight is answered here (204, or 403 problem+json for
    what the policy refuses), never forwarded; any other OPTIONS goes upstream as before."""

    async def preflight(request: web.Request) -> web.StreamResponse:
        headers = request.headers
        origin = headers.get("Origin")
        method = headers.get("Access-Control-Request-Method")
        if origin is None or method is None:
            return await forward(request)
        verdict = policy.preflight(origin, method, headers.get("Access-Control-Request-Headers"))
        if verdict.refused:
            metrics.REFUSED.labels("cors_refused").inc()
            raise HttpProblem(403, code="cors_refused", detail=verdict.refused)
        response = web.Response(status=204, headers=verdict.headers)
        response[PREFLIGHT] = True
        return response

    return preflight
