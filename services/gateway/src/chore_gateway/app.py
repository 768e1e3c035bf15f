"""`create_app(settings)`: the gateway as an aiohttp application.

The kit's app factory (`create_service_app`: the common telemetry and problem middlewares,
health and OpenAPI routes), the adapters from bootstrap.py, and the route table of
api/routes.py: `/docs`, and `/auth/*`, `/tasks/*`, `/messaging/*` (each the pool of that
service).
"""

from __future__ import annotations

from aiohttp import web

from chore_common.http.app import create_service_app, installed_version
from chore_gateway.api import routes
from chore_gateway.bootstrap import bootstrap
from chore_gateway.settings import GatewaySettings


def create_app(settings: GatewaySettings) -> web.Application:
    # /metrics names every upstream address: it listens on a port of its own, not here.
    app = create_service_app(
        settings, title="gateway", version=installed_version("chore-gateway"), metrics_route=False
    )
    bootstrap(app, settings)
    routes.add_routes(app, settings)
    return app
