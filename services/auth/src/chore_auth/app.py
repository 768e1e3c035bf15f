"""`create_app(settings)`: the auth service as an aiohttp application.

Resources start in order and stop in reverse: the kit's (database, idempotency store, NATS
+ streams, outbox relay), then auth's own from bootstrap.py (keys, password hasher, the
token verifier and the revocation feed it reads).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from chore_auth.api.routes import ROUTES
from chore_auth.bootstrap import auth_context
from chore_auth.settings import AuthSettings
from chore_common.assembly import storage_app
from chore_common.auth.principal import bearer_middleware
from chore_common.db.migrations import upgrade_head

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def migrate(settings: AuthSettings) -> None:
    upgrade_head(settings.database_url, MIGRATIONS)


def create_app(settings: AuthSettings) -> web.Application:
    # Auth verifies its own tokens: its verifier reads the key ring (bootstrap.auth_context).
    app = storage_app(settings, migrations=MIGRATIONS, verifier=False)
    for routes in ROUTES:
        app.add_routes(routes)
    app.middlewares.append(bearer_middleware)
    app.cleanup_ctx.append(auth_context(settings))
    return app
