"""The async engine for a URL: SQLite (aiosqlite) or PostgreSQL (asyncpg).

SQLite is tuned for one writer at a time: WAL (readers never block the writer), foreign
keys on, a busy timeout, and `BEGIN IMMEDIATE` for every transaction. A deferred BEGIN
lets two transactions read, then both try to write, and one fails at once with
"database is locked" whatever the busy timeout; taking the write lock at BEGIN makes the
second one wait its turn instead. Work that only reads can opt out with the
`AUTOCOMMIT` isolation level (the readiness check does).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Final

import sqlalchemy.ext.asyncio
from aiohttp import web
from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool

from chore_common.keys import READINESS
from chore_common.settings import ServiceSettings
from chore_common.telemetry.metrics import register_pool_gauge, unregister_pool_gauge

SQLITE_PRAGMAS: Final = (
    "PRAGMA journal_mode=WAL",
    # NORMAL is durable across application crashes in WAL mode; only an OS crash or power
    # loss may drop the last commits, which FULL would keep at a fsync per commit.
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)

ENGINE = web.AppKey("chore.db.engine", AsyncEngine)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str, *, pool_size: int = 20, pool_timeout_s: float = 10.0, echo: bool = False
) -> AsyncEngine:
    """An engine for `url` with the platform's settings for its backend.

    PostgreSQL gets a fixed pool of up to `pool_size` connections, opened as needed and then
    kept. No overflow: SQLAlchemy closes an overflow connection as soon as it is returned to
    a full pool, so a service running just above `pool_size` concurrent transactions opened
    and closed a connection every few dozen requests (a PostgreSQL backend started, and the
    driver's type set-up rerun, each time: 63 new sessions in 3 s at 32 clients, measured).
    A request that finds every connection busy waits up to `pool_timeout_s`, then gets 503.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    return _create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout_s,
        # No pre-ping: on asyncpg it is BEGIN, a ping and ROLLBACK on every checkout (three
        # round trips; 0.4-0.8 ms of a one-client POST /tasks here, measured). A connection
        # a database restart killed fails its one request instead (503 + Retry-After), and
        # SQLAlchemy then drops every older pooled connection, so the next ones reconnect
        # and the service (and its readiness check) recovers without a restart.
        pool_recycle=1800,
    )


def _create_async_engine(url: Any, **kwargs: Any) -> AsyncEngine:
    # Through the module attribute, not a name bound at import: the SQLAlchemy tracing
    # instrumentation (chore_common.telemetry.sqlalchemy_spans) wraps that attribute, and
    # every engine created through it afterwards gets statement spans.
    return sqlalchemy.ext.asyncio.create_async_engine(url, **kwargs)


def _sqlite_engine(url: str, *, echo: bool) -> AsyncEngine:
    # Imported only for SQLite URLs: it builds on SQLAlchemy's aiosqlite dialect internals.
    from chore_common.db import sqlite_driver

    parsed = make_url(url)
    if parsed.get_driver_name() == "aiosqlite":
        # The same driver, one thread trip per statement instead of three or four.
        parsed = parsed.set(drivername=f"sqlite+{sqlite_driver.DRIVER}")
    database = parsed.database or ""
    kwargs: dict[str, Any] = {}
    if database in ("", ":memory:"):
        kwargs["poolclass"] = StaticPool  # one shared connection, or each would be empty
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = _create_async_engine(parsed, echo=echo, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        # Let us issue BEGIN ourselves (the driver's implicit one is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def database_check(engine: AsyncEngine) -> None:
    """Readiness: returns when the database answers a query, raises otherwise."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("SELECT 1"))


def pool_in_use(engine: AsyncEngine) -> float:
    checkedout = getattr(engine.sync_engine.pool, "checkedout", None)
    return float(checkedout()) if callable(checkedout) else 0.0


def db_context(
    settings: ServiceSettings, *, name: str = "main"
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx: the engine in `app[ENGINE]` (units of work connect through it),
    readiness check "database"."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            pool_timeout_s=settings.db_pool_timeout_s,
        )
        app[ENGINE] = engine
        readiness = app.get(READINESS)

        async def check() -> None:
            await database_check(engine)

        if readiness is not None:
            readiness.add("database", check)
        register_pool_gauge(name, lambda: pool_in_use(engine), service=settings.service_name)
        try:
            yield
        finally:
            if readiness is not None:
                readiness.remove("database")
            unregister_pool_gauge(name, service=settings.service_name)
            await engine.dispose()

    return ctx
