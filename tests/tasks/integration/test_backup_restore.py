"""Backups (docs/runbooks.md "PostgreSQL: pg_dump / pg_restore per service database"): the
tasks database dumped with the runbook's commands, restored into a fresh database, serves the
same tasks. Real HTTP, a real PostgreSQL, the real client binaries; PostgreSQL only (a dump is
a PostgreSQL file), skipped, saying why, elsewhere.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from chore_common.testing.apps import StartApp

from .conftest import Client, Issuer, User

pytestmark = pytest.mark.db

CLIENT_TOOLS = ("pg_dump", "pg_restore", "createdb", "dropdb")


def libpq_url(sqlalchemy_url: str, database: str | None = None) -> str:
    """`postgresql+asyncpg://u@h:p/db` as the client tools take it: `postgresql://u@h:p/db`."""
    parts = urlsplit(sqlalchemy_url)
    path = parts.path if database is None else f"/{database}"
    return urlunsplit(("postgresql", parts.netloc, path, parts.query, ""))


async def run(*argv: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await proc.communicate()
    assert proc.returncode == 0, f"{' '.join(argv)}: {output.decode(errors='replace')}"


async def post(tasks: Client, path: str, who: User, body: Any = None) -> dict[str, Any]:
    resp = await tasks.post(path, json=body, headers=who.headers)
    assert resp.status in (200, 201), await resp.text()
    return dict(await resp.json())


async def a_day_of_tasks(tasks: Client, issuer: Issuer) -> tuple[User, User, list[str]]:
    """Tasks in every state a restore must keep: open, offered, assigned, done."""
    owner, worker = issuer.user("client"), issuer.user("tasker")
    ids = []
    for n, category in enumerate(["garden", "cleaning", "handyman", "pets"]):
        body = {"title": f"Chore {n}", "category": category, "budget_cents": 1000 + n}
        ids.append((await post(tasks, "/tasks", owner, body))["id"])
    offered = await post(tasks, f"/tasks/{ids[1]}/offers", worker, {"price_cents": 900})
    for task_id in ids[2:]:
        made = await post(tasks, f"/tasks/{task_id}/offers", worker, {"price_cents": 950})
        await post(tasks, f"/tasks/{task_id}/assign", owner, {"offer_id": made["id"]})
    await post(tasks, f"/tasks/{ids[3]}/start", worker)
    await post(tasks, f"/tasks/{ids[3]}/complete", worker)
    await post(tasks, f"/tasks/{ids[3]}/confirm", owner)
    assert offered["task_id"] == ids[1]
    return owner, worker, ids


async def what_they_see(tasks: Client, owner: User, worker: User, ids: list[str]) -> dict[str, Any]:
    """Every task (body and ETag), its offers, and each user's listing."""
    seen: dict[str, Any] = {}
    for task_id in ids:
        resp = await tasks.get(f"/tasks/{task_id}", headers=owner.headers)
        assert resp.status == 200, await resp.text()
        seen[task_id] = (resp.headers["ETag"], await resp.json())
        offers = await tasks.get(f"/tasks/{task_id}/offers", headers=owner.headers)
        seen[f"{task_id}/offers"] = await offers.json()
    for who, query in ((owner, "owner=me"), (worker, "assignee=me")):
        listing = await tasks.get(f"/tasks?{query}", headers=who.headers)
        seen[query] = await listing.json()
    return seen


async def test_a_restored_dump_serves_the_same_tasks_with_the_same_etags(
    db_backend: str,
    database_url: str,
    start_tasks: StartApp,
    issuer: Issuer,
    tmp_path: Path,
) -> None:
    if db_backend != "postgres":
        pytest.skip("backups are pg_dump files: needs PostgreSQL (none on 127.0.0.1:5432, or "
                    "CHORE_TEST_DB=sqlite)")  # fmt: skip
    missing = [tool for tool in CLIENT_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} not installed (Debian: apt-get install postgresql-client)"
        )

    original = await start_tasks()
    owner, worker, ids = await a_day_of_tasks(original, issuer)
    before = await what_they_see(original, owner, worker, ids)

    # The runbook's commands: a custom-format dump, a fresh database, pg_restore into it.
    dump = tmp_path / "tasks.dump"
    await run("pg_dump", "-Fc", "--no-owner", libpq_url(database_url), "-f", str(dump))
    restored = f"tasks_restored_{uuid.uuid4().hex[:8]}"
    server = libpq_url(database_url, "postgres")
    await run("createdb", "--maintenance-db", server, restored)
    after_restore: Client | None = None
    try:
        await run("pg_restore", "--no-owner", "-d", libpq_url(database_url, restored), str(dump))
        parts = urlsplit(database_url)
        restored_url = urlunsplit((parts.scheme, parts.netloc, f"/{restored}", parts.query, ""))
        # A new app on the restored database only (its own cache, its own pool).
        after_restore = await start_tasks(database_url=restored_url)
        after = await what_they_see(after_restore, owner, worker, ids)
        assert after == before
        # A client's cached copy is still current: its ETag answers 304.
        etag = before[ids[3]][0]
        resp = await after_restore.get(
            f"/tasks/{ids[3]}", headers={**owner.headers, "If-None-Match": etag}
        )
        assert resp.status == 304
        # And the restored database takes writes where the original left off.
        made = await post(after_restore, f"/tasks/{ids[0]}/offers", worker, {"price_cents": 800})
        assert made["task_id"] == ids[0]
    finally:
        if after_restore is not None:
            await after_restore.close()  # its pool lets go before the database goes
        await run("dropdb", "--maintenance-db", server, "--if-exists", "--force", restored)
