"""R11: two tasks service processes on one database; 200 jobs due in the same second each
run exactly once, counted by the processes' own metrics. Likewise the auto-confirm of tasks
left `done` (issue 24), with TASKS_AUTO_CONFIRM_H set to seconds."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.contracts.envelope import Envelope
from chore_common.testing.nats import NatsServer, free_port, wait_for_port
from chore_tasks.adapters.tables import JOBS, OUTBOX, TASKS

from .conftest import Issuer

pytestmark = [pytest.mark.db, pytest.mark.slow]

JOBS_DUE = 200
RUNS = re.compile(r'^tasks_jobs_run_total\{kind="expire_task",outcome="(\w+)"\} ([0-9.e+]+)$', re.M)
AUTO_RUNS = re.compile(
    r'^tasks_jobs_run_total\{kind="auto_confirm",outcome="(\w+)"\} ([0-9.e+]+)$', re.M
)
AUTO_CONFIRM_S = 6.0
TASKS_DONE = 40


@pytest.fixture
def replicas(
    engine: AsyncEngine,  # migrated before the processes start
    database_url: str,
    nats_server: NatsServer,
    issuer: Issuer,
    tmp_path: Path,
) -> Iterator[list[str]]:
    ports = [free_port(), free_port()]
    procs = []
    for n, port in enumerate(ports):
        env = {
            **os.environ,
            "TASKS_DATABASE_URL": database_url,
            "TASKS_NATS_URL": nats_server.url,
            "TASKS_JWKS_URL": issuer.jwks_url,
            "TASKS_PORT": str(port),
            "TASKS_VAR_DIR": str(tmp_path),
            "TASKS_MIGRATE_ON_START": "false",
            "TASKS_SCHEDULER_POLL_S": "0.2",
            "TASKS_SCHEDULER_BATCH": "20",
            "TASKS_SHUTDOWN_GRACE_S": "1",
            "TASKS_AUTO_CONFIRM_H": str(AUTO_CONFIRM_S / 3600),
        }
        log = (tmp_path / f"replica-{n}.log").open("wb")
        procs.append(
            subprocess.Popen([sys.executable, "-m", "chore_tasks"], env=env, stdout=log, stderr=log)
        )
    try:
        for port in ports:
            wait_for_port(port, timeout=30)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)


async def runs_counted(
    http: aiohttp.ClientSession, base: str, runs: re.Pattern[str] = RUNS
) -> dict[str, float]:
    async with http.get(f"{base}/metrics") as resp:
        text = await resp.text()
    return {outcome: float(value) for outcome, value in runs.findall(text)}


async def wait_ready(http: aiohttp.ClientSession, replicas: list[str]) -> None:
    """Until both replicas answer (JWKS fetched, database reachable)."""
    for base in replicas:
        for _ in range(100):
            async with http.get(f"{base}/readyz") as resp:
                if resp.status == 200:
                    break
            await asyncio.sleep(0.1)


async def test_jobs_due_in_the_same_second_run_once_across_two_processes(
    replicas: list[str], issuer: Issuer, engine: AsyncEngine
) -> None:
    owner = issuer.user("client")
    due = (datetime.now(UTC) + timedelta(seconds=8)).replace(microsecond=0)
    async with aiohttp.ClientSession(headers=owner.headers) as http:
        # Wait until both replicas answer (JWKS fetched, database reachable).
        for base in replicas:
            for _ in range(100):
                async with http.get(f"{base}/readyz") as resp:
                    if resp.status == 200:
                        break
                await asyncio.sleep(0.1)

        async def post(n: int) -> None:
            body = {"title": f"Chore {n}", "category": "misc", "budget_cents": 100}
            body["due_at"] = (due + timedelta(microseconds=n)).isoformat()
            async with http.post(f"{replicas[n % 2]}/tasks", json=body) as resp:
                assert resp.status == 201, await resp.text()

        for start in range(0, JOBS_DUE, 25):
            await asyncio.gather(*(post(n) for n in range(start, start + 25)))
        assert datetime.now(UTC) < due, "posting took too long for the jobs to be due together"

        async def done() -> int:
            async with engine.connect() as conn:
                query = select(func.count()).select_from(JOBS).where(JOBS.c.status == "done")
                return int((await conn.execute(query)).scalar_one())

        deadline = asyncio.get_running_loop().time() + 30
        while await done() < JOBS_DUE:
            assert asyncio.get_running_loop().time() < deadline, "jobs did not all run"
            await asyncio.sleep(0.2)
        counted = [await runs_counted(http, base) for base in replicas]

    assert sum(c.get("done", 0) for c in counted) == JOBS_DUE
    assert all(c.get("lost", 0) == 0 and c.get("failed_try", 0) == 0 for c in counted)
    async with engine.connect() as conn:
        attempts = (await conn.execute(select(func.max(JOBS.c.attempts)))).scalar_one()
        expired = (
            await conn.execute(
                select(func.count())
                .select_from(OUTBOX)
                .where(OUTBOX.c.subject == "tasks.task.expired")
            )
        ).scalar_one()
    assert attempts == 1
    assert expired == JOBS_DUE


async def test_tasks_left_done_are_auto_confirmed_once_across_two_processes(
    replicas: list[str], issuer: Issuer, engine: AsyncEngine
) -> None:
    owner, worker = issuer.user("client"), issuer.user("tasker")
    async with aiohttp.ClientSession() as http:
        await wait_ready(http, replicas)

        async def call(n: int, path: str, who: Any, body: Any = None) -> dict[str, Any]:
            url = f"{replicas[n % 2]}{path}"
            async with http.post(url, json=body, headers=who.headers) as resp:
                assert resp.status in (200, 201), await resp.text()
                return dict(await resp.json())

        async def in_progress(n: int) -> str:
            chore = {"title": f"Chore {n}", "category": "misc", "budget_cents": 100}
            task = await call(n, "/tasks", owner, chore)
            made = await call(n + 1, f"/tasks/{task['id']}/offers", worker, {"price_cents": 90})
            await call(n, f"/tasks/{task['id']}/assign", owner, {"offer_id": made["id"]})
            await call(n + 1, f"/tasks/{task['id']}/start", worker)
            return str(task["id"])

        ids = await asyncio.gather(*(in_progress(n) for n in range(TASKS_DONE)))
        # All marked done at once, half on each replica: their auto-confirms fall due together.
        marked = await asyncio.gather(
            *(call(n, f"/tasks/{t}/complete", worker) for n, t in enumerate(ids))
        )
        assert {m["status"] for m in marked} == {"done"}

        async def confirmed() -> int:
            async with engine.connect() as conn:
                query = (
                    select(func.count())
                    .select_from(TASKS)
                    .where(TASKS.c.id.in_([UUID(t) for t in ids]), TASKS.c.status == "completed")
                )
                return int((await conn.execute(query)).scalar_one())

        deadline = asyncio.get_running_loop().time() + AUTO_CONFIRM_S + 60
        while await confirmed() < TASKS_DONE:
            assert asyncio.get_running_loop().time() < deadline, "tasks were not all confirmed"
            await asyncio.sleep(0.2)
        counted = [await runs_counted(http, base, AUTO_RUNS) for base in replicas]
        for n, task_id in enumerate(ids):
            async with http.get(f"{replicas[n % 2]}/tasks/{task_id}", headers=owner.headers) as r:
                assert (await r.json())["status"] == "completed"

    assert sum(c.get("done", 0) for c in counted) == TASKS_DONE
    assert all(c.get("lost", 0) == 0 and c.get("failed_try", 0) == 0 for c in counted)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(OUTBOX.c.payload).where(OUTBOX.c.subject == "tasks.task.completed")
            )
        ).all()
        attempts = (
            await conn.execute(
                select(func.max(JOBS.c.attempts)).where(JOBS.c.kind == "auto_confirm")
            )
        ).scalar_one()
    completed = [Envelope.from_bytes(bytes(row.payload)) for row in rows]
    mine = [e for e in completed if e.data["task_id"] in set(ids)]
    assert len(mine) == TASKS_DONE  # one event each: nothing confirmed twice
    assert {e.data["confirmed_by"] for e in mine} == {"auto"}
    assert attempts == 1
