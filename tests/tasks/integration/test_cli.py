"""`chore-tasks migrate` brings an empty database to the current schema."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from chore_common.db import create_engine

pytestmark = pytest.mark.db


async def test_migrate_creates_every_table(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "TASKS_DATABASE_URL": database_url, "TASKS_VAR_DIR": str(tmp_path)}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "chore_tasks.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "at head" in done.stdout
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert {"tasks", "offers", "reviews", "jobs", "outbox", "inbox"} <= tables
