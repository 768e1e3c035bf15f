"""/docs in headless Chromium, through the gateway of the platform as `make run` starts it
(auth, tasks and messaging as processes): each service's operations are rendered once picked
in the top bar's selector, and the page asks nothing of any host but the gateway."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from system.helpers import launch_platform

from chore_common.testing.browser import CHROMIUM, MISSING, open_page

pytestmark = [
    pytest.mark.system,
    pytest.mark.timeout(300),
    pytest.mark.skipif(CHROMIUM is None, reason=MISSING),
]

# A few operations of each service, as swagger-ui shows them: "METHOD /path".
EXPECTED = {
    "auth": {"POST /auth/login", "POST /auth/register", "GET /auth/me"},
    "tasks": {"POST /tasks", "GET /tasks/{task_id}", "POST /tasks/admin/jobs/{job_id}/retry"},
    "messaging": {
        "GET /messaging/conversations",
        "POST /messaging/conversations/{conversation_id}/messages",
    },
}
OPERATIONS = """[...document.querySelectorAll("#swagger-ui .opblock-summary")].map(op =>
    op.querySelector(".opblock-summary-method").innerText + " " +
    op.querySelector(".opblock-summary-path").dataset.path)"""
SHOWN_TITLE = "document.querySelector('#swagger-ui .info .title')?.firstChild?.textContent"
SELECTOR = "#swagger-ui .topbar select"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, db_backend: str) -> Iterator[str]:
    with launch_platform(tmp_path_factory.mktemp("docs") / "var", db_backend, 1) as running:
        yield running.url


async def test_docs_render_every_service_picked_from_the_selector_and_stay_on_the_gateway(
    gateway: str, tmp_path: Path
) -> None:
    async with open_page(tmp_path / "chromium") as page:
        await page.goto(f"{gateway}/docs")
        options = await page.wait_for(
            f"""(() => {{
                const select = document.querySelector({SELECTOR!r});
                const shown = select && select.getBoundingClientRect().height > 0;
                return shown && [...select.options].map(o => o.text);
            }})()""",
            what="a visible service selector",
        )
        assert options == ["auth", "tasks", "messaging"]

        # The first one is shown on arrival; each is then picked as a user would.
        for name in ("tasks", "messaging", "auth"):
            await page.select(SELECTOR, name)
            await page.wait_for(f"{SHOWN_TITLE} === {name!r}", what=f"{name}'s title")
            ops = set(
                await page.wait_for(
                    f"(() => {{ const ops = {OPERATIONS};"
                    f" return ops.some(o => o.split(' ')[1].startsWith('/{name}')) && ops; }})()",
                    what=f"{name}'s operations",
                )
            )
            assert EXPECTED[name] <= ops, f"{name}: {sorted(ops)}"
            assert all(op.split(" ")[1].startswith(f"/{name}") for op in ops), sorted(ops)
            text = await page.evaluate("document.body.innerText")
            assert "Unable to render" not in text
            assert "OAS 3.1" in text

        shot = await page.screenshot(tmp_path / "docs.png")
        print(f"/docs screenshot: {shot}")

    for name in EXPECTED:
        assert f"{gateway}/docs/{name}.json" in page.requested
    assert page.foreign_requests() == []
    assert page.problems == []  # no script error, no CSP violation
