"""The scheduler's admin page: queued, running, failed and done jobs with their last error.

Server-rendered, self-contained HTML (no scripts, no CDN, works offline), served at
`/tasks/admin/jobs` to clients that ask for `text/html`. Every value is escaped: a job's
error text is whatever an exception said.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from aiohttp import web

from chore_tasks import usecases
from chore_tasks.domain.jobs import Job, JobStatus
from chore_tasks.domain.model import Actor
from chore_tasks.keys import UowFactory
from chore_tasks.usecases.commands import ListJobs

PER_STATUS = 50
SHOWN = (JobStatus.FAILED, JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.DONE)
# Nothing on the page may load or run anything: inline styles only.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5rem;color:#1d2330;background:#f6f7f9}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}
.counts span{display:inline-block;margin-right:1rem;padding:.3rem .7rem;border-radius:1rem}
.failed{background:#fde2e1}.running{background:#fff4ce}.queued{background:#e3ecfd}
.done{background:#dff3e4}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #d9dce3;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#eef0f4}td.error{font-family:ui-monospace,monospace;white-space:pre-wrap;
color:#9b1c1c;max-width:40rem}.empty{color:#6b7280}
"""


def wants_html(request: web.Request) -> bool:
    """Whether the client ranks HTML above JSON (a browser), by `Accept` order."""
    accept = request.headers.get("Accept", "")
    html, json = accept.find("text/html"), accept.find("application/json")
    return html >= 0 and (json < 0 or html < json)


async def jobs_page(uow: UowFactory, who: Actor, now: datetime) -> web.Response:
    sections: list[tuple[JobStatus, list[Job]]] = []
    for status in SHOWN:
        cmd = ListJobs(actor=who, status=status, limit=PER_STATUS)
        page = await usecases.list_jobs(uow(), cmd, now)
        sections.append((status, page.items))
    return web.Response(
        text=_document(sections, now), content_type="text/html", headers=SECURITY_HEADERS
    )


def _document(sections: list[tuple[JobStatus, list[Job]]], now: datetime) -> str:
    counts = "".join(
        f'<span class="{s.value}" id="count-{s.value}">{s.value}: {len(jobs)}'
        f"{'+' if len(jobs) >= PER_STATUS else ''}</span>"
        for s, jobs in sections
    )
    body = "".join(_section(status, jobs) for status, jobs in sections)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width'>"
        f"<title>Tasks scheduler jobs</title><style>{STYLE}</style></head><body>"
        "<h1>Tasks scheduler jobs</h1>"
        f"<p>As of {escape(now.isoformat(timespec='seconds'))}. Retry, run now and delete "
        "through <code>/tasks/admin/jobs/{id}</code>.</p>"
        f'<p class="counts">{counts}</p>{body}</body></html>'
    )


def _section(status: JobStatus, jobs: list[Job]) -> str:
    head = f'<section id="{status.value}"><h2 class="{status.value}">{status.value.title()}</h2>'
    if not jobs:
        return f'{head}<p class="empty">No {status.value} jobs.</p></section>'
    rows = "".join(_row(job) for job in jobs)
    return (
        f"{head}<table><thead><tr><th>Job</th><th>Kind</th><th>Task</th><th>Run at</th>"
        "<th>Tries</th><th>Last error</th><th>Updated</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _row(job: Job) -> str:
    cells = [
        escape(str(job.id)),
        escape(job.kind.value),
        escape(str(job.task_id)),
        escape(job.run_at.isoformat(timespec="seconds")),
        f"{job.attempts}/{job.max_attempts}",
    ]
    error = escape(job.last_error or "")
    updated = escape(job.updated_at.isoformat(timespec="seconds"))
    tds = "".join(f"<td>{cell}</td>" for cell in cells)
    row_id = escape(str(job.id))
    return f'<tr data-job="{row_id}">{tds}<td class="error">{error}</td><td>{updated}</td></tr>'
