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
    telemetry_middleware,
)
from chore_common.http.openapi import OPENAPI, OpenApiDocument, openapi_handler
from chore_common.keys import READINESS, SETTINGS
from chore_common.logging import configure_logging, flush_logs
from chore_common.logging import is_configured as is_logging_configured
from chore_common.observability import metrics
from chore_common.observability.tracing import configure_tracing, shutdown_tracing
from chore_common.readiness import Readiness
from chore_common.settings import ServiceSettings


async def metrics_handler(request: web.Request) -> web.Response:
    body, content_type = metrics.render()
    # prometheus' content type carries parameters that aiohttp's content_type= refuses.
    return web.Response(body=body, headers={"Content-Type": content_type})


async def _telemetry(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    service = settings.service_name
    if not is_logging_configured():  # serve() has done it; an app run some other way too
        configure_logging(service, settings.log_level)
    configure_tracing(service)
    lag = asyncio.create_task(metrics.watch_event_loop_lag(service), name="loop-lag")
    yield
    lag.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await lag
    shutdown_tracing()
    flush_logs()


async def _mark_shutting_down(app: web.Application) -> None:
    # on_shutdown runs before in-flight requests are awaited: a /readyz probe that arrives
    # on a kept-alive connection meanwhile gets 503, not "ready".
    app[READINESS].shutting_down = True


def create_service_app(
    settings: ServiceSettings, *, title: str | None = None, version: str = "1.0.0"
) -> web.Application:
    """The common stack, health, metrics and OpenAPI routes; `title` defaults to the service."""
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        # request id -> tracing -> metrics -> access log -> problem errors, fused for speed
        middlewares=[telemetry_middleware(metrics.RequestMetrics(settings.service_name))],
    )
    app[SETTINGS] = settings
    app[READINESS] = Readiness()
    app[OPENAPI] = OpenApiDocument(title or settings.service_name, version)
    app.on_shutdown.append(_mark_shutting_down)
    app.cleanup_ctx.append(_telemetry)
    app.router.add_get("/healthz", healthz, allow_head=False)
    app.router.add_get("/readyz", readyz, allow_head=False)
    app.router.add_get("/metrics", metrics_handler, allow_head=False)
    app.router.add_get("/openapi.json", openapi_handler, allow_head=False)
    return app
