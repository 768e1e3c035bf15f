"""`create_app(settings)`: the tasks service as an aiohttp application.

Resources start in order and stop in reverse: database, NATS (+ streams), outbox relay,
token verifier (JWKS + the revocation feed), then tasks' own from `bootstrap` (read cache,
unit of work, group commit, scheduler).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from aiohttp import web

from chore_common.auth.principal import bearer_middleware, verifier_context
from chore_common.bus.connection import NATS_CLIENT, nats_context
from chore_common.bus.relay import relay_context
from chore_common.db import ENGINE, db_context
from chore_common.db.idempotency import SqlIdempotencyStore
from chore_common.db.migrations import migrate_context, upgrade_head
from chore_common.http.app import create_service_app
from chore_common.http.idempotency import idempotency_context
from chore_tasks.api.admin_page import sign_in_for_browsers
from chore_tasks.api.routes import ROUTES
from chore_tasks.bootstrap import bootstrap
from chore_tasks.settings import TasksSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def _version() -> str:
    try:
        return version("chore-tasks")
    except PackageNotFoundError:
        return "0.0.0"


def migrate(settings: TasksSettings) -> None:
    upgrade_head(settings.database_url, MIGRATIONS)


def create_app(settings: TasksSettings) -> web.Application:
    app = create_service_app(settings, title="tasks", version=_version())
    for routes in ROUTES:
        app.add_routes(routes)
    app.middlewares.append(sign_in_for_browsers)  # outside the bearer check it answers for
    app.middlewares.append(bearer_middleware)
    if settings.migrate_on_start or (settings.migrate_on_start is None and settings.is_sqlite):
        app.cleanup_ctx.append(migrate_context(settings.database_url, MIGRATIONS))
    app.cleanup_ctx.append(db_context(settings))
    app.cleanup_ctx.append(idempotency_context(lambda a: SqlIdempotencyStore(a[ENGINE])))
    app.cleanup_ctx.append(nats_context(settings))
    app.cleanup_ctx.append(
        relay_context(
            settings.service_name,
            engine=lambda a: a[ENGINE],
            js=lambda a: a[NATS_CLIENT].jetstream(),
        )
    )
    app.cleanup_ctx.append(verifier_context(settings))
    bootstrap(app, settings)
    return app
