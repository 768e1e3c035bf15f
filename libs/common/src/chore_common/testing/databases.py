"""Throwaway databases: PostgreSQL when it answers (a fresh database per use), else SQLite.

`CHORE_TEST_DB=sqlite|postgres` forces a backend; `CHORE_TEST_PG_URL` points at the server
(default the local trust-auth PostgreSQL). Each database is created empty and dropped after.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PG_ADMIN_URL = os.environ.get("CHORE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_reachable() -> bool:
    parts = urlsplit(PG_ADMIN_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 0.5):
            return True
    except OSError:
        return False


def chosen_backend() -> str:
    forced = os.environ.get("CHORE_TEST_DB", "").lower()
    if forced in {"sqlite", "postgres"}:
        return forced
    return "postgres" if postgres_reachable() else "sqlite"


def _with_db(url: str, name: str, driver: str = "postgresql") -> str:
    parts = urlsplit(url)
    return urlunsplit((driver, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def _pg_admin(sql: str) -> None:
    import asyncpg  # only needed when PostgreSQL is used

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_postgres_database() -> str:
    name = f"chore_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    return name


def drop_postgres_database(name: str) -> None:
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def throwaway_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """Yield an async SQLAlchemy URL of a new, empty database; drop it afterwards."""
    if backend == "postgres":
        name = create_postgres_database()
        try:
            yield _with_db(PG_ADMIN_URL, name, "postgresql+asyncpg")
        finally:
            drop_postgres_database(name)
    else:
        path = tmp_dir / f"db-{uuid.uuid4().hex[:8]}.sqlite"
        yield f"sqlite+aiosqlite:///{path}"
