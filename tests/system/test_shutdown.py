"""SIGTERM to the whole platform while it serves: what was in flight still gets its answer."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .helpers import demo, launch_platform

pytestmark = [pytest.mark.system, pytest.mark.timeout(240)]


@dataclass
class Outcome:
    started: float
    ended: float
    what: str
    status: int | None  # None: no HTTP answer at all
    error: str = ""


async def test_sigterm_under_load_lets_every_in_flight_request_finish(
    tmp_path: Path, db_backend: str
) -> None:
    # A platform of its own, since this test ends it.
    with launch_platform(tmp_path / "var", db_backend, 1) as running:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            api = demo.Api(session, running.url)
            ann = await demo.log_in(api, await demo.sign_up(api, "Ann", "client", "r10"))
            task = await api.call("POST", "/tasks", token=ann.token, expect=(201,), json_body={
                "title": "Mow the lawn", "category": "garden", "budget_cents": 3000})  # fmt: skip
            outcomes: list[Outcome] = []
            term_at: list[float] = []

            async def request(what: str, method: str, path: str, body: Any = None) -> None:
                started = time.monotonic()
                headers = {"Authorization": f"Bearer {ann.token}"}
                try:
                    async with session.request(
                        method, api.url(path), json=body, headers=headers
                    ) as response:
                        await response.read()
                        status: int | None = response.status
                        error = ""
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status, error = None, f"{type(exc).__name__}: {exc}"
                outcomes.append(Outcome(started, time.monotonic(), what, status, error))

            async def worker(n: int) -> None:
                # New requests stop once SIGTERM is sent: only those begun before it count.
                while not term_at:
                    if n % 2:
                        await request("GET", "GET", f"/tasks/{task['id']}")
                    else:
                        chore = {"title": f"Chore {uuid.uuid4().hex[:6]}",
                                 "category": "garden", "budget_cents": 1000}  # fmt: skip
                        await request("POST", "POST", "/tasks", chore)

            workers = [asyncio.create_task(worker(n)) for n in range(12)]
            await asyncio.sleep(1.5)
            # Logins hash a password (tens of ms): sure to be inside a handler at the signal.
            body = {"email": ann.email, "password": demo.PASSWORD}
            logins = [
                asyncio.create_task(request("login", "POST", "/auth/login", body)) for _ in range(4)
            ]
            await asyncio.sleep(0.01)
            running.proc.send_signal(signal.SIGTERM)
            term_at.append(time.monotonic())
            await asyncio.gather(*workers, *logins)
            code = await asyncio.to_thread(running.proc.wait, 60)

    signalled = term_at[0]
    in_flight = [o for o in outcomes if o.started < signalled]
    unanswered = [o for o in in_flight if o.status is None or o.status >= 500]
    landed_after = [o for o in in_flight if o.ended > signalled]
    print(
        f"\nSIGTERM under load: {len(in_flight)} requests begun before it, "
        f"{len(landed_after)} answered after it, {len(unanswered)} failed; exit {code}"
    )
    assert [f"{o.what}: {o.status} {o.error}" for o in unanswered] == []
    assert {o.status for o in in_flight if o.what == "login"} == {200}
    assert landed_after, "nothing was in flight when the signal went"
    assert code == 0
    assert running.lines[-1].endswith("stopped")
