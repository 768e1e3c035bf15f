"""Issue 24: a dispute resolved by an admin from the admin page in headless Chromium, through
the gateway of the platform as `make run` starts it. The owner disputes a task the tasker
marked done; the admin signs in on the page, sees the dispute with the owner's reason (as
text, never markup), writes a note and resolves it as completed; the row leaves the page, the
task is completed and both sides are notified with the note."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from system.helpers import RunningPlatform, demo, launch_platform

from chore_common.testing.browser import CHROMIUM, MISSING, Page, open_page

pytestmark = [
    pytest.mark.system,
    pytest.mark.timeout(300),
    pytest.mark.skipif(CHROMIUM is None, reason=MISSING),
]

REASON = "Only <b>half</b> the lawn & none of the edges"
NOTE = "Photos from both sides: the back lawn was never mown"


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, db_backend: str
) -> Iterator[RunningPlatform]:
    with launch_platform(tmp_path_factory.mktemp("disputes") / "var", db_backend, 1) as running:
        yield running


@pytest.fixture
async def api(platform: RunningPlatform) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield demo.Api(session, platform.url)


async def disputed_task(api: Any, tag: str) -> tuple[Any, Any, str]:
    """Ann's task, done by Bob and disputed by Ann: (Ann, Bob, task id)."""
    ann = await demo.log_in(api, await demo.sign_up(api, "Ann", "client", tag))
    bob = await demo.log_in(api, await demo.sign_up(api, "Bob", "tasker", tag))
    chore = {"title": "Mow <the> lawn", "category": "garden", "budget_cents": 2000}
    task = await api.call("POST", "/tasks", token=ann.token, json_body=chore, expect=(201,))
    task_id = task["id"]
    made = await api.call(
        "POST",
        f"/tasks/{task_id}/offers",
        token=bob.token,
        json_body={"price_cents": 1800},
        expect=(201,),
    )
    body = {"offer_id": made["id"]}
    await api.call("POST", f"/tasks/{task_id}/assign", token=ann.token, json_body=body)
    await api.call("POST", f"/tasks/{task_id}/start", token=bob.token)
    done = await api.call("POST", f"/tasks/{task_id}/complete", token=bob.token)
    assert done["status"] == "done"
    disputed = await api.call(
        "POST", f"/tasks/{task_id}/dispute", token=ann.token, json_body={"reason": REASON}
    )
    assert disputed["status"] == "disputed"
    return ann, bob, task_id


def row(task_id: str) -> str:
    return f'#jobs section#disputes tr[data-task="{task_id}"]'


async def text(page: Page, selector: str) -> str:
    return str(await page.evaluate(f"document.querySelector({selector!r})?.innerText ?? ''"))


async def test_an_admin_resolves_a_dispute_from_the_admin_page(
    platform: RunningPlatform, api: Any, tmp_path: Path
) -> None:
    admin = json.loads((platform.var_dir / "admin.json").read_text())
    ann, bob, task_id = await disputed_task(api, tmp_path.name[-10:])

    async with open_page(tmp_path / "chromium") as page:
        await page.goto(f"{platform.url}/tasks/admin/jobs")
        await page.fill("#email", admin["email"])
        await page.fill("#password", admin["password"])
        await page.click("#sign-in button[type=submit]")
        await page.wait_for(
            f"document.querySelector({row(task_id)!r}) !== null", what="the dispute in the list"
        )
        assert await text(page, "section#disputes h2") == "Disputes"
        assert await text(page, f"{row(task_id)} td.reason") == REASON  # text, never markup
        assert await page.evaluate(f"document.querySelector({row(task_id) + ' b'!r}) === null")
        cells = await page.evaluate(
            f"[...document.querySelectorAll({row(task_id) + ' td'!r})].map(td => td.innerText)"
        )
        assert cells[:4] == [task_id, "Mow <the> lawn", ann.id, bob.id]
        print(f"disputes screenshot: {await page.screenshot(tmp_path / 'admin-disputes.png')}")

        # Without a note the page refuses to send anything.
        await page.click(f"{row(task_id)} button[data-resolve=completed]")
        await page.wait_for(
            "document.querySelector('#notice').innerText.includes('write a note')",
            what="the missing note",
        )
        await page.fill(f"{row(task_id)} input.note", NOTE)
        await page.click(f"{row(task_id)} button[data-resolve=completed]")
        notice = await page.wait_for(
            "(() => { const n = document.querySelector('#notice').innerText;"
            " return n.includes('dispute resolved') && n; })()",
            what="the resolution's answer",
        )
        assert notice == f"Task {task_id}: dispute resolved, the task is completed."
        await page.wait_for(
            f"document.querySelector({row(task_id)!r}) === null", what="the row gone"
        )
        assert "No open disputes." in await text(page, "section#disputes")

    assert page.foreign_requests() == []
    assert page.problems == []
    task = await api.call("GET", f"/tasks/{task_id}", token=ann.token)
    assert task["status"] == "completed"
    # Both sides hear of it, with the note (messaging's consumer), each about the other.
    for user, other in ((ann, bob), (bob, ann)):
        [resolved] = await _eventually_resolved(api, user, task_id)
        assert resolved["data"] == {"outcome": "completed", "note": NOTE, "person_id": other.id}


async def _eventually_resolved(api: Any, user: Any, task_id: str) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        notes = await demo.notifications(api, user)
        found = [n for n in notes if n["kind"] == "dispute_resolved" and n["task_id"] == task_id]
        return found or None

    return list(await demo.eventually(probe, f"dispute_resolved for {user.name}"))
