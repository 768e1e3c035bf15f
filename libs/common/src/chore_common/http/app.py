"""`create_service_app`: the aiohttp application every service starts from.

```python
app = create_service_app(settings, title="tasks")
app.add_routes(routes)                      # ApiRoutes: documented at /openapi.json
app.middlewares.append(auth_middleware)     # inside the common stack
app.cleanup_ctx.append(database_ctx)        # after telemetry: torn down before it
```
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from chore_common.http.health import healthz, readyz
from chore_common.http.middlewares import (
    access_log_middleware,
    echo_request_id,
    metrics_middleware,
    problem_middleware,
    request_id_middleware,
    tracing_middleware,
)
from chore_common.http.openapi import OPENAPI, OpenApiDocument, openapi_handler
from chore_common.keys import READINESS, SETTINGS
from chore_common.observability import metrics
from chore_common.observability.tracing import configure_tracing, shutdown_tracing
from chore_common.readiness import Readiness
from chore_common.settings import ServiceSettings


async def metrics_handler(request: web.Request) -> web.Response:
    body, content_type = metrics.render()
    # prometheus' content type carries parameters that aiohttp's content_type= refuses.
    return web.Response(body=body, headers={"Content-Type": content_type})


async def _telemetry(app: web.Application) -> AsyncIterator[None]:
    service = app[SETTINGS].service_name
    configure_tracing(service)
    lag = asyncio.create_task(metrics.watch_event_loop_lag(service), name="loop-lag")
    yield
    lag.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await lag
    shutdown_tracing()


async def _mark_shutting_down(app: web.Application) -> None:
    # on_shutdown runs before in-flight requests are awaited: a /readyz probe that arrives
    # on a kept-alive connection meanwhile gets 503, not "ready".
    app[READINESS].shutting_down = True


def create_service_app(
    settings: ServiceSettings, *, title: str, version: str = "1.0.0"
) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            request_id_middleware,
            tracing_middleware,
            metrics_middleware(metrics.RequestMetrics(settings.service_name)),
            access_log_middleware,
            problem_middleware,
        ],
    )
    app[SETTINGS] = settings
    app[READINESS] = Readiness()
    app[OPENAPI] = OpenApiDocument(title, version)
    app.on_response_prepare.append(echo_request_id)
    app.on_shutdown.append(_mark_shutting_down)
    app.cleanup_ctx.append(_telemetry)
    app.router.add_get("/healthz", healthz, allow_head=False)
    app.router.add_get("/readyz", readyz, allow_head=False)
    app.router.add_get("/metrics", metrics_handler, allow_head=False)
    app.router.add_get("/openapi.json", openapi_handler, allow_head=False)
    return app
