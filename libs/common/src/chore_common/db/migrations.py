"""Alembic wiring: each service keeps its own `migrations/` and its env.py is three lines:

    from alembic import context
    from chore_common.db.migrations import run_env
    from chore_tasks.adapters.tables import metadata
    run_env(context, metadata)

`upgrade_head(url, script_location)` applies every revision from code, a CLI or a test.
It works with or without a running event loop: when one is running (an async test, an
app's startup) the async migration runs on a fresh loop in a worker thread.

Revision bodies several services share live here too (`create_idempotency_keys`), so each
service's revision file keeps its own ids and calls them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from alembic import command, op
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from chore_common.db.engine import create_engine, is_sqlite

URL_ATTRIBUTE = "chore.database_url"


def alembic_config(url: str, script_location: str | Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    # Passed as an attribute, not a main option: configparser would mangle a "%" in a password.
    config.attributes[URL_ATTRIBUTE] = url
    return config


def upgrade_head(url: str, script_location: str | Path) -> None:
    """Apply every migration under `script_location` to the database at `url`."""
    command.upgrade(alembic_config(url, script_location), "head")


def migrate_context(
    url: str, script_location: str | Path
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx that applies the migrations at start. Append it before the database and
    bus contexts: aiohttp runs every cleanup_ctx before any `on_startup` handler, so a
    migration there would come after the relay and consumers had already met missing tables."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade_head, url, script_location)
        yield

    return ctx


def _run_to_completion(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(make())
        return
    with ThreadPoolExecutor(max_workers=1) as pool_:
        pool_.submit(asyncio.run, make()).result()


def _url_of(context: Any) -> str:
    config = context.config
    url = config.attributes.get(URL_ATTRIBUTE) or config.get_main_option("sqlalchemy.url")
    url = url or os.environ.get("DATABASE_URL", "")
    if not url:
        raise RuntimeError("no database URL: pass one to upgrade_head or set DATABASE_URL")
    return str(url)


def run_env(context: Any, target_metadata: MetaData) -> None:
    """The body of a service's env.py (`context` is `alembic.context`)."""
    url = _url_of(context)
    opts: dict[str, Any] = {
        "target_metadata": target_metadata,
        "compare_type": True,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        "render_as_batch": is_sqlite(url),
    }
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **opts)
        with context.begin_transaction():
            context.run_migrations()
        return

    def run(connection: Connection) -> None:
        context.configure(connection=connection, **opts)
        with context.begin_transaction():
            context.run_migrations()

    async def migrate() -> None:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                await conn.run_sync(run)
                await conn.commit()
        finally:
            await engine.dispose()

    _run_to_completion(migrate)


def create_idempotency_keys() -> None:
    """Upgrade body of the revision adding `idempotency_keys` (`add_idempotency_table`)."""
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=512), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )


def drop_idempotency_keys() -> None:
    """Downgrade body of the same revision."""
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))
    op.drop_table("idempotency_keys")
