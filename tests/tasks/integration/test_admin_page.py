"""The scheduler's admin page in headless Chromium: it renders offline, is screenshot, and
shows a failed job's error text (read back from the DOM)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.testing.browser import CHROMIUM, MISSING, open_page
from chore_tasks import usecases
from chore_tasks.adapters.group_commit import TransactionEach
from chore_tasks.adapters.scheduler import Scheduler
from chore_tasks.adapters.uow import TasksUnitOfWork
from chore_tasks.domain.events import DomainEvent
from chore_tasks.domain.jobs import Job, JobKind, RetryPolicy
from chore_tasks.usecases.commands import CreateTask
from chore_tasks.usecases.ports import TasksUnitOfWork as UnitOfWorkPort
from tasks.unit.factories import NOW, client

from .conftest import Client, Issuer

pytestmark = pytest.mark.db

ERROR = "PaymentsDown: gateway said <b>503</b> & gave up"


class ErrorCells(HTMLParser):
    """Collects the text of `td.error` cells inside `section#failed`."""

    def __init__(self) -> None:
        super().__init__()
        self.section: str | None = None
        self.in_error = False
        self.failed_errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section":
            self.section = found.get("id")
        if tag == "td" and found.get("class") == "error" and self.section == "failed":
            self.in_error = True
            self.failed_errors.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self.in_error = False

    def handle_data(self, data: str) -> None:
        if self.in_error:
            self.failed_errors[-1] += data


async def seed_jobs(engine: AsyncEngine, uow: Callable[[], TasksUnitOfWork]) -> None:
    policy = RetryPolicy(max_attempts=1)
    due = NOW + timedelta(hours=1)
    for n in range(2):
        cmd = CreateTask(
            actor=client(), title=f"T{n}", description="", category="c", budget_cents=1, due_at=due
        )
        await usecases.create_task(TransactionEach(uow), cmd, NOW, retry=policy)

    async def broken(uow: UnitOfWorkPort, job: Job, now: datetime) -> DomainEvent | None:
        raise RuntimeError(ERROR)

    failing = Scheduler(
        engine, uow, policy, batch=1, runners={JobKind.EXPIRE_TASK: broken}, clock=lambda: due
    )
    assert await failing.run_due() == 1  # one failed, the other stays queued


@pytest.mark.skipif(CHROMIUM is None, reason=MISSING)
async def test_the_admin_page_shows_a_failed_jobs_error_in_headless_chromium(
    engine: AsyncEngine,
    uow: Callable[[], TasksUnitOfWork],
    start_tasks: Callable[..., Awaitable[Client]],
    issuer: Issuer,
    tmp_path: Path,
) -> None:
    await seed_jobs(engine, uow)
    tasks = await start_tasks(scheduler_enabled=False)
    boss = issuer.user("admin")
    url = str(tasks.make_url("/tasks/admin/jobs").with_query(token=boss.token))

    async with open_page(tmp_path / "chromium") as page:
        await page.goto(url)
        dom = await page.evaluate("document.documentElement.outerHTML")
        shot = await page.screenshot(tmp_path / "tasks-admin-jobs.png")
    cells = ErrorCells()
    cells.feed(dom)
    assert cells.failed_errors == [f"RuntimeError: {ERROR}"]
    assert 'id="count-queued">queued: 1<' in dom
    assert "<b>503</b>" not in dom  # the error is text, never markup

    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"admin page screenshot: {shot}")


async def test_the_admin_page_is_for_admins_only(
    start_tasks: Callable[..., Awaitable[Client]], issuer: Issuer
) -> None:
    tasks = await start_tasks(scheduler_enabled=False)
    html = {"Accept": "text/html"}
    resp = await tasks.get("/tasks/admin/jobs", headers=html)
    assert resp.status == 401
    resp = await tasks.get(
        "/tasks/admin/jobs", params={"token": issuer.user("client").token}, headers=html
    )
    assert resp.status == 403
    resp = await tasks.get(
        "/tasks/admin/jobs", params={"token": issuer.user("admin").token}, headers=html
    )
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    # API clients asking for JSON get the list, whether the token comes by header or query.
    resp = await tasks.get("/tasks/admin/jobs", params={"token": issuer.user("admin").token})
    assert resp.status == 200
    assert (await resp.json())["items"] == []


async def test_a_browser_refused_the_page_gets_its_sign_in_form_and_api_clients_a_problem(
    start_tasks: Callable[..., Awaitable[Client]], issuer: Issuer
) -> None:
    tasks = await start_tasks(scheduler_enabled=False)
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # a browser's navigation
    resp = await tasks.get("/tasks/admin/jobs", headers=html)
    assert resp.status == 401
    assert resp.content_type == "text/html"
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    page = await resp.text()
    assert '<form id="sign-in" method="post">' in page  # shown, not hidden
    assert 'type="password"' in page
    assert '<main id="jobs"></main>' in page
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'sha256-" in csp
    assert "connect-src 'self'" in csp
    assert "form-action 'none'" in csp

    client = {**html, "Authorization": f"Bearer {issuer.user('client').token}"}
    resp = await tasks.get("/tasks/admin/jobs", headers=client)
    assert resp.status == 403
    assert "This account is not an admin" in await resp.text()

    # JSON clients keep their problem+json answers.
    resp = await tasks.get("/tasks/admin/jobs")
    assert resp.status == 401
    assert resp.content_type == "application/problem+json"
    resp = await tasks.post("/tasks/admin/jobs/00000000-0000-0000-0000-000000000000/retry",
                            headers=html)  # fmt: skip
    assert resp.status == 401
    assert resp.content_type == "application/problem+json"
