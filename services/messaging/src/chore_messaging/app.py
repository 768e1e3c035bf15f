"""`create_app(settings)`: the messaging service as an aiohttp application.

The kit's resources start first (`storage_app`: migrations, database, NATS, outbox relay,
token verifier) and stop last; then messaging's own from `bootstrap`: the unit of work, the
sockets and the fan-out (sockets close 1012 on shutdown, before in-flight requests are
awaited), and the consumer of tasks events.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from chore_common.assembly import storage_app
from chore_common.auth.principal import bearer_middleware
from chore_common.db.migrations import upgrade_head
from chore_messaging.api.routes import ROUTES
from chore_messaging.bootstrap import bootstrap
from chore_messaging.settings import MessagingSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def migrate(settings: MessagingSettings) -> None:
    upgrade_head(settings.database_url, MIGRATIONS)


def create_app(settings: MessagingSettings) -> web.Application:
    app = storage_app(settings, migrations=MIGRATIONS, idempotency=False)
    for routes in ROUTES:
        app.add_routes(routes)
    app.middlewares.append(bearer_middleware)
    bootstrap(app, settings)
    return app
