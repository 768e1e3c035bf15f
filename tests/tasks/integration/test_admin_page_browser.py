"""The admin jobs page in headless Chromium, through the gateway of the platform as `make run`
starts it (auth, tasks, messaging and the gateway as processes): a browser that opens it gets
a sign-in form, signs in as the platform's admin, sees a failed job with its error, retries
and deletes it from the page; an account that is not an admin is told so."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import aiohttp
import pytest
from system.helpers import RunningPlatform, demo, launch_platform

from chore_common.db import create_engine
from chore_common.testing.browser import CHROMIUM, MISSING, Page, open_page
from chore_common.testing.databases import PG_ADMIN_URL
from chore_tasks.adapters.scheduler import Scheduler
from chore_tasks.adapters.uow import TasksUnitOfWork
from chore_tasks.domain.events import DomainEvent
from chore_tasks.domain.jobs import Job, JobKind, JobStatus, RetryPolicy
from chore_tasks.usecases.ports import JobFilter
from chore_tasks.usecases.ports import TasksUnitOfWork as UnitOfWorkPort

pytestmark = [
    pytest.mark.system,
    pytest.mark.timeout(300),
    pytest.mark.skipif(CHROMIUM is None, reason=MISSING),
]

ERROR = "PaymentsDown: provider said <b>503</b>"


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, db_backend: str
) -> Iterator[RunningPlatform]:
    with launch_platform(tmp_path_factory.mktemp("admin") / "var", db_backend, 1) as running:
        yield running


@pytest.fixture
async def api(platform: RunningPlatform) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield demo.Api(session, platform.url)


def tasks_database(platform: RunningPlatform) -> str:
    """The platform's own tasks database (tools/stack.py names it)."""
    if platform.backend == "postgres":
        parts = urlsplit(PG_ADMIN_URL)._replace(
            scheme="postgresql+asyncpg", path=f"/{platform.pg_prefix}tasks"
        )
        return urlunsplit(parts)
    return f"sqlite+aiosqlite:///{platform.var_dir / 'tasks.db'}"


async def fail_the_expiry_of(platform: RunningPlatform, task_id: str) -> UUID:
    """Run the task's expiry job with a runner that raises, ahead of time and on a clock of
    its own, until it ends failed, as test_scheduler.py does: the platform's scheduler never
    sees it due (it is due in an hour, and each backoff lies further ahead)."""

    async def broken(uow: UnitOfWorkPort, job: Job, now: datetime) -> DomainEvent | None:
        raise RuntimeError(ERROR)

    engine = create_engine(tasks_database(platform))
    uow = lambda: TasksUnitOfWork(engine, producer="tasks")  # noqa: E731

    async def job_of_task() -> Job:
        async with uow() as u:
            [job] = (await u.jobs.list(JobFilter(task_id=UUID(task_id), limit=10))).items
        return job

    try:
        job = await job_of_task()
        clock = Clock(job.run_at)
        failing = Scheduler(
            engine, uow, RetryPolicy(), runners={JobKind.EXPIRE_TASK: broken}, clock=clock
        )
        while job.status is not JobStatus.FAILED:
            assert await failing.run_due() == 1
            job = await job_of_task()
            clock.at = job.run_at
    finally:
        await engine.dispose()
    return job.id


def row(job_id: UUID, section: str = "") -> str:
    inside = f"#jobs {section}" if section else "#jobs"
    return f'{inside} tr[data-job="{job_id}"]'


async def present(page: Page, selector: str) -> bool:
    return bool(await page.evaluate(f"document.querySelector({selector!r}) !== null"))


async def text(page: Page, selector: str) -> str:
    return str(await page.evaluate(f"document.querySelector({selector!r})?.innerText ?? ''"))


async def sign_in(page: Page, email: str, password: str) -> None:
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("#sign-in button[type=submit]")


async def refresh(page: Page) -> None:
    """Click Refresh and wait for the list it fetches to replace the one shown."""
    await page.evaluate("window.shownList = document.querySelector('#jobs')")
    await page.click("#refresh")
    await page.wait_for("document.querySelector('#jobs') !== window.shownList", what="Refresh")


async def test_an_admin_signs_in_on_the_page_and_retries_then_deletes_a_failed_job(
    platform: RunningPlatform, api: Any, tmp_path: Path
) -> None:
    admin = json.loads((platform.var_dir / "admin.json").read_text())
    ann = await demo.log_in(api, await demo.sign_up(api, "Ann", "client", tmp_path.name[-10:]))
    due = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    chore = {"title": "Mow", "category": "garden", "budget_cents": 2000, "due_at": due}
    task = await api.call("POST", "/tasks", token=ann.token, json_body=chore, expect=(201,))
    job_id = await fail_the_expiry_of(platform, task["id"])

    async with open_page(tmp_path / "chromium") as page:
        await page.goto(f"{platform.url}/tasks/admin/jobs")
        # A browser without a token: the sign-in form, not a raw 401.
        assert await page.evaluate("!document.querySelector('#sign-in').hidden")
        assert "Sign in with an admin account" in await text(page, "#notice")
        print(f"sign-in screenshot: {await page.screenshot(tmp_path / 'admin-sign-in.png')}")

        await sign_in(page, admin["email"], admin["password"])
        await page.wait_for(
            f"document.querySelector({row(job_id, 'section#failed')!r}) !== null",
            what="the failed job in the list",
        )
        assert await page.evaluate("document.querySelector('#sign-in').hidden")
        assert await text(page, "#who") == admin["email"]
        error = await text(page, f"{row(job_id)} td.error")
        assert error == f"RuntimeError: {ERROR}"  # shown as text, never markup
        assert await present(page, f"{row(job_id)} button[data-action=delete]")
        print(f"jobs screenshot: {await page.screenshot(tmp_path / 'admin-jobs.png')}")

        await page.click(f"{row(job_id)} button[data-action=retry]")
        notice = await page.wait_for(
            "(() => { const n = document.querySelector('#notice').innerText;"
            " return n.includes('queued again') && n; })()",
            what="the retry's answer",
        )
        assert notice == f"Job {job_id}: queued again with fresh tries (now queued)."
        # Its new state, read back from the refreshed list: out of Failed, into Queued (the
        # platform's scheduler takes it at once, finds the task not yet due and queues it
        # for then; Refresh until that run, if any, is over).
        await page.wait_for(
            f"document.querySelector({row(job_id, 'section#failed')!r}) === null",
            what="the list refreshed after the retry",
        )
        for _ in range(50):
            if await present(page, row(job_id, "section#queued")):
                break
            await refresh(page)
        assert await present(page, row(job_id, "section#queued"))
        assert not await present(page, row(job_id, "section#failed"))
        assert await present(page, f"{row(job_id)} button[data-action=run]")

        # A reload keeps the sign-in (the tab's sessionStorage), not a cookie.
        await page.goto(f"{platform.url}/tasks/admin/jobs")
        await page.wait_for(
            f"document.querySelector({row(job_id, 'section#queued')!r}) !== null",
            what="the list after a reload",
        )
        assert await page.evaluate("document.cookie") == ""

        await page.click(f"{row(job_id)} button[data-action=delete]")
        await page.wait_for(
            f"document.querySelector('#notice').innerText === 'Job {job_id}: deleted.'",
            what="the delete's answer",
        )
        await page.wait_for(
            f"document.querySelector({row(job_id)!r}) === null", what="the row gone"
        )
        assert page.dialogs == [f"Delete job {job_id}?"]

    assert page.foreign_requests() == []
    assert page.problems == []
    assert not [url for url in page.requested if "token" in url or admin["password"] in url]
    login = {"email": admin["email"], "password": admin["password"]}
    tokens = await api.call("POST", "/auth/login", json_body=login, expect=(200,))
    path = f"/tasks/admin/jobs/{job_id}"
    await api.call("GET", path, token=tokens["access_token"], expect=(404,))


async def test_an_account_that_is_not_an_admin_is_told_so(
    platform: RunningPlatform, api: Any, tmp_path: Path
) -> None:
    bob = await demo.sign_up(api, "Bob", "tasker", tmp_path.name[-10:])
    async with open_page(tmp_path / "chromium") as page:
        await page.goto(f"{platform.url}/tasks/admin/jobs")
        await sign_in(page, bob.email, "not his password")
        await page.wait_for(
            "document.querySelector('#notice').innerText.includes('wrong email or password')",
            what="the refused password",
        )
        await sign_in(page, bob.email, demo.PASSWORD)
        await page.wait_for(
            "document.querySelector('#notice').innerText.includes('is not an admin')",
            what="the not-an-admin notice",
        )
        assert await text(page, "#notice") == (
            f"{bob.email} is not an admin: sign in with an admin account."
        )
        assert await page.evaluate("!document.querySelector('#sign-in').hidden")
        assert await page.evaluate("document.querySelector('#jobs').children.length") == 0
        assert await page.evaluate("sessionStorage.length") == 0
    assert page.foreign_requests() == []
