"""`create_service_app`: the aiohttp application every service starts from.

```python
app = create_service_app(settings, title="tasks")
app.add_routes(routes)                      # ApiRoutes: documented at /openapi.json
app.middlewares.append(auth_middleware)     # inside the common stack
app.cleanup_ctx.append(database_ctx)        # after telemetry: torn down before it
```

Every app, the gateway's included, gets the same middlewares first: the request telemetry
(request id, span, metric, access line: `chore_common.telemetry.requests`), then the problem
mapping (exceptions become RFC 9457 responses). A route added the ordinary aiohttp way is
covered by both, so nothing can bypass them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version

from aiohttp import web

from chore_common.http.health import healthz, readyz
from chore_common.http.openapi import OPENAPI, OpenApiDocument, openapi_handler
from chore_common.http.problem import problem_middleware
from chore_common.keys import READINESS, SETTINGS
from chore_common.readiness import Readiness
from chore_common.settings import ServiceSettings
from chore_common.telemetry import metrics
from chore_common.telemetry.access_log import ACCESS_LOG
from chore_common.telemetry.logs import configure_logging, flush_logs
from chore_common.telemetry.logs import is_configured as is_logging_configured
from chore_common.telemetry.requests import RequestTelemetry
from chore_common.telemetry.tracing import configure_tracing, shutdown_tracing


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
    ACCESS_LOG.flush()
    shutdown_tracing()
    flush_logs()


# aiohttp would name itself and its version (`Python/3.11 aiohttp/3.14.5`) on every response:
# nothing a client needs, and a free hint to anyone looking for a known hole. A value must
# stay (aiohttp fills in its own when there is none): a product name without a version.
SERVER_NAME = "chore"


async def _unversioned_server(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = SERVER_NAME


async def _mark_shutting_down(app: web.Application) -> None:
    # on_shutdown runs before in-flight requests are awaited: a /readyz probe that arrives
    # on a kept-alive connection meanwhile gets 503, not "ready".
    app[READINESS].shutting_down = True


def installed_version(distribution: str) -> str:
    """The version of an installed distribution (`chore-tasks`), "0.0.0" when it is not one
    (run from a source tree): what a service's OpenAPI document names."""
    try:
        return distribution_version(distribution)
    except PackageNotFoundError:
        return "0.0.0"


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str | None = None,
    version: str = "1.0.0",
    metrics_route: bool = True,
) -> web.Application:
    """The common stack, health, metrics and OpenAPI routes; `title` defaults to the service.

    `metrics_route=False` leaves `/metrics` out, for an app that serves it on a port of its
    own (the gateway: its public port must not show it)."""
    telemetry = RequestTelemetry(metrics.RequestMetrics(settings.service_name))
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[telemetry.middleware(), problem_middleware],
    )
    app[SETTINGS] = settings
    app[READINESS] = Readiness()
    app[OPENAPI] = OpenApiDocument(title or settings.service_name, version)
    app.on_shutdown.append(_mark_shutting_down)
    app.on_response_prepare.append(_unversioned_server)
    app.cleanup_ctx.append(_telemetry)
    routes = [("/healthz", healthz), ("/readyz", readyz), ("/openapi.json", openapi_handler)]
    if metrics_route:
        routes.append(("/metrics", metrics_handler))
    for path, handler in routes:
        app.router.add_route("GET", path, handler)
    return app
