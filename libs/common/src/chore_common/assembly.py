"""`storage_app`: the start-up every service that owns a database repeats, in one call.

```python
def create_app(settings: TasksSettings) -> web.Application:
    app = storage_app(settings, migrations=MIGRATIONS)
    app.add_routes(routes)
    app.middlewares.append(bearer_middleware)
    app.cleanup_ctx.append(tasks_context(settings))   # the service's own, after the kit's
    return app
```

The app is `create_service_app`'s (the common stack, health, metrics, OpenAPI under the
version of the installed `chore-<service>`), with its resources started in this order and
stopped in reverse: migrations (when `migrates_on_start`), the database, the idempotency
store, NATS (+ streams), the poll of the `jetstream_stream_*` gauges, the outbox relay, the
token verifier (JWKS + the revocation feed).
Migrations come first because aiohttp runs every cleanup_ctx before any on_startup handler:
later, the relay would already have met missing tables.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from chore_common.auth.principal import verifier_context
from chore_common.bus.connection import NATS_CLIENT, nats_context
from chore_common.bus.stream_metrics import stream_metrics_context
from chore_common.db import ENGINE, db_context
from chore_common.db.migrations import migrate_context
from chore_common.http.app import create_service_app, installed_version
from chore_common.idempotency.middleware import idempotency_context
from chore_common.idempotency.store import SqlIdempotencyStore
from chore_common.outbox.relay import relay_context
from chore_common.settings import StorageSettings


def storage_app(
    settings: StorageSettings,
    *,
    migrations: Path,
    idempotency: bool = True,
    verifier: bool = True,
) -> web.Application:
    """The service app with the kit's resources; `idempotency=False` for a service without
    idempotent routes, `verifier=False` for one that verifies tokens itself (auth)."""
    service = settings.service_name
    app = create_service_app(settings, version=installed_version(f"chore-{service}"))
    if settings.migrates_on_start:
        app.cleanup_ctx.append(migrate_context(settings.database_url, migrations))
    app.cleanup_ctx.append(db_context(settings))
    if idempotency:
        app.cleanup_ctx.append(idempotency_context(lambda a: SqlIdempotencyStore(a[ENGINE])))
    app.cleanup_ctx.append(nats_context(settings))
    app.cleanup_ctx.append(stream_metrics_context(settings, lambda a: a[NATS_CLIENT]))
    app.cleanup_ctx.append(
        relay_context(service, engine=lambda a: a[ENGINE], js=lambda a: a[NATS_CLIENT].jetstream())
    )
    if verifier:
        app.cleanup_ctx.append(verifier_context(settings))
    return app
