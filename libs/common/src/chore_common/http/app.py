"""`create_service_app`: the aiohttp application every service starts from.

```python
app = create_service_app(settings, title="tasks")
app.add_routes(routes)                      # ApiRoutes: documented at /openapi.json
app.middlewares.append(auth_middleware)     # inside the common stack
app.cleanup_ctx.append(database_ctx)        # after telemetry: torn down before it
```

An app that must not pay for aiohttp's middleware machinery (the gateway) passes
`per_route_telemetry=True`: it gets no middleware, and every route it adds goes through
`add_traced_route`, which wraps the handler in the same telemetry. A catch-all route gives
unknown paths the usual 404 problem.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection

from aiohttp import web
from aiohttp.typedefs import Handler

from chore_common.http.health import healthz, readyz
from chore_common.http.middlewares import RequestTelemetry
from chore_common.http.openapi import OPENAPI, OpenApiDocument, openapi_handler
from chore_common.http.request_records import FINISHED
from chore_common.keys import READINESS, SETTINGS, TELEMETRY
from chore_common.logging import configure_logging, flush_logs
from chore_common.logging import is_configured as is_logging_configured
from chore_common.observability import metrics
from chore_common.observability.tracing import configure_tracing, shutdown_tracing
from chore_common.readiness import Readiness
from chore_common.settings import ServiceSettings

_PER_ROUTE = web.AppKey("chore.per_route_telemetry", bool)


async def metrics_handler(request: web.Request) -> web.Response:
    FINISHED.flush()  # the requests of the batch under way count too
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


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str | None = None,
    version: str = "1.0.0",
    per_route_telemetry: bool = False,
    metrics_route: bool = True,
) -> web.Application:
    """The common stack, health, metrics and OpenAPI routes; `title` defaults to the service.

    `metrics_route=False` leaves `/metrics` out, for an app that serves it on a port of its
    own (the gateway: its public port must not show it)."""
    telemetry = RequestTelemetry(metrics.RequestMetrics(settings.service_name))
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        # request id -> tracing -> metrics -> access log -> problem errors, fused for speed
        middlewares=[] if per_route_telemetry else [telemetry.middleware()],
    )
    app[SETTINGS] = settings
    app[READINESS] = Readiness()
    app[OPENAPI] = OpenApiDocument(title or settings.service_name, version)
    app[TELEMETRY] = telemetry
    app.on_shutdown.append(_mark_shutting_down)
    app.on_response_prepare.append(_unversioned_server)
    app.cleanup_ctx.append(_telemetry)
    if per_route_telemetry:
        app[_PER_ROUTE] = True
        # Indexed under "/", which the router tries after every longer prefix: last.
        app.router.add_route("*", "/{tail:.*}", telemetry.route(_not_found, metrics.UNMATCHED))
    add_traced_route(app, "GET", "/healthz", healthz)
    add_traced_route(app, "GET", "/readyz", readyz)
    if metrics_route:
        add_traced_route(app, "GET", "/metrics", metrics_handler)
    add_traced_route(app, "GET", "/openapi.json", openapi_handler)
    return app


def add_traced_route(
    app: web.Application, methods: str | Collection[str], path: str, handler: Handler
) -> None:
    """Add a route (for `methods`, or "*" for any) whose requests get the common telemetry:
    the app's middleware does it, or, with `per_route_telemetry`, a wrapper around
    `handler`. Either way a method not listed gets a 405 problem (HEAD included)."""
    listed = None if methods == "*" else [methods] if isinstance(methods, str) else methods
    if not app.get(_PER_ROUTE, False):
        for method in listed or ["*"]:
            app.router.add_route(method, path, handler)
        return
    resource = app.router.add_resource(path)
    route = app[TELEMETRY].route(handler, resource.canonical, listed)
    resource.add_route("*", route)


async def _not_found(request: web.Request) -> web.StreamResponse:
    raise web.HTTPNotFound()
