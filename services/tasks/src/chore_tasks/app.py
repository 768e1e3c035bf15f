"""`create_app(settings)`: the tasks service as an aiohttp application.

Resources start in order and stop in reverse: the kit's (`storage_app`: database, NATS
(+ streams), outbox relay, token verifier), then tasks' own from `bootstrap` (read cache,
unit of work, group commit, scheduler).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from chore_common.assembly import storage_app
from chore_common.auth.principal import bearer_middleware
from chore_tasks.api.admin_page import sign_in_for_browsers
from chore_tasks.api.routes import ROUTES
from chore_tasks.bootstrap import bootstrap
from chore_tasks.settings import TasksSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: TasksSettings) -> web.Application:
    app = storage_app(settings, migrations=MIGRATIONS)
    for routes in ROUTES:
        app.add_routes(routes)
    app.middlewares.append(sign_in_for_browsers)  # outside the bearer check it answers for
    app.middlewares.append(bearer_middleware)
    bootstrap(app, settings)
    return app
