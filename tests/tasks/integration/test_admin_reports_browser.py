"""Issue 25: reports queued on the tasks admin page, answered in headless Chromium through
the gateway of the platform as `make run` starts it. A tasker reports a client's task
(tasks keeps it) and one of the client's messages (messaging keeps it); the admin signs in,
sees both with what was reported (as text, never markup), resolves one and dismisses the
other with a note; both rows leave the page and each service lists its report answered."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from system.helpers import RunningPlatform, chat_between, demo, launch_platform

from chore_common.testing.browser import CHROMIUM, MISSING, Page, open_page

pytestmark = [
    pytest.mark.system,
    pytest.mark.timeout(300),
    pytest.mark.skipif(CHROMIUM is None, reason=MISSING),
]

MESSAGE = "Pay me <b>cash</b> & skip the app"
REASON = "Asks to <i>skip</i> the platform"


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, db_backend: str
) -> Iterator[RunningPlatform]:
    with launch_platform(tmp_path_factory.mktemp("reports") / "var", db_backend, 1) as running:
        yield running


@pytest.fixture
async def api(platform: RunningPlatform) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield demo.Api(session, platform.url)


def row(report_id: str) -> str:
    return f'#jobs section#reports tr[data-report="{report_id}"]'


async def text(page: Page, selector: str) -> str:
    return str(await page.evaluate(f"document.querySelector({selector!r})?.innerText ?? ''"))


async def answer(page: Page, report_id: str, action: str, note: str) -> None:
    # An answer reloads the queue: messaging's rows come back once fetched after the page.
    await page.wait_for(
        f"document.querySelector({row(report_id)!r}) !== null", what=f"report {report_id}"
    )
    await page.fill(f"{row(report_id)} input.note", note)
    await page.click(f"{row(report_id)} button[data-report-action={action}]")
    await page.wait_for(
        f"document.querySelector({row(report_id)!r}) === null", what=f"report {action}ed"
    )


async def test_an_admin_answers_task_and_message_reports_from_the_admin_page(
    platform: RunningPlatform, api: Any, tmp_path: Path
) -> None:
    admin = json.loads((platform.var_dir / "admin.json").read_text())
    ann, bob, task_id, conv_id = await chat_between(api, tmp_path.name[-10:])
    url = f"/messaging/conversations/{conv_id}/messages"
    sent = await api.call(
        "POST", url, token=ann.token, json_body={"body": MESSAGE, "client_msg_id": "m1"}
    )
    task_report = await api.call(
        "POST", f"/tasks/{task_id}/report", token=bob.token, json_body={"reason": REASON},
        expect=(201,),
    )  # fmt: skip
    message_report = await api.call(
        "POST", f"{url}/{sent['id']}/report", token=bob.token, json_body={"reason": REASON},
        expect=(201,),
    )  # fmt: skip

    async with open_page(tmp_path / "chromium") as page:
        await page.goto(f"{platform.url}/tasks/admin/jobs")
        await page.fill("#email", admin["email"])
        await page.fill("#password", admin["password"])
        await page.click("#sign-in button[type=submit]")
        for report in (task_report, message_report):
            await page.wait_for(
                f"document.querySelector({row(report['id'])!r}) !== null",
                what=f"{report['id']} in the queue",
            )
        assert await text(page, "section#reports h2") == "Reports"
        message_row = row(message_report["id"])
        assert await text(page, f"{message_row} .content") == MESSAGE  # text, never markup
        assert await text(page, f"{message_row} .reason") == REASON
        assert await text(page, f"{row(task_report['id'])} .reason") == REASON
        assert "Hang two shelves" in await text(page, f"{row(task_report['id'])} .content")
        assert await page.evaluate("document.querySelector('#reports b, #reports i') === null")
        print(f"reports screenshot: {await page.screenshot(tmp_path / 'admin-reports.png')}")

        await answer(page, task_report["id"], "resolve", "Told Ann to keep payments in the app")
        await answer(page, message_report["id"], "dismiss", "One message, no pattern")
        # The answer reloads the queue: the tasks' part comes with the page, the messages'
        # part is fetched after it, so its row is gone before its empty state is shown.
        await page.wait_for(
            "document.querySelector('section#reports').textContent"
            ".includes('No open reports of messages.')",
            what="the empty message-report queue",
        )

    assert page.foreign_requests() == []
    assert page.problems == []
    tasks_closed = await api.call(
        "GET", "/tasks/admin/reports?state=closed", token=await _admin(api, admin)
    )
    messages_closed = await api.call(
        "GET", "/messaging/admin/reports?state=closed", token=await _admin(api, admin)
    )
    assert [(r["id"], r["status"]) for r in tasks_closed["items"]] == [
        (task_report["id"], "resolved")
    ]
    assert [(r["id"], r["status"], r["note"]) for r in messages_closed["items"]] == [
        (message_report["id"], "dismissed", "One message, no pattern")
    ]


async def _admin(api: Any, admin: dict[str, str]) -> str:
    body = {"email": admin["email"], "password": admin["password"]}
    tokens = await api.call("POST", "/auth/login", json_body=body)
    return str(tokens["access_token"])
