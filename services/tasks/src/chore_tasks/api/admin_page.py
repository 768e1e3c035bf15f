"""The tasks admin page: open disputes with a note field and buttons to resolve each as
completed or cancelled; open reports of tasks, offers and messages (report_queue.py) with a
note and buttons to dismiss or resolve each; then queued, running, failed and done jobs with
their last error, and buttons to retry, run now or delete each.

Served at `/tasks/admin/jobs` to clients that ask for `text/html`. A browser that comes
without a usable token (the usual case: a navigation cannot set `Authorization`) gets the
page's sign-in form, still with the 401 (or 403 for a non-admin) the API would answer.
The page's one script (`admin_page.js`, inlined and pinned by its hash in the CSP) signs
in through the gateway's `/auth/login`, keeps the access token in the tab's sessionStorage,
fetches this same page's `#jobs` (disputes and jobs) with it and calls the admin API for
the buttons. Nothing
loads from elsewhere. Every value is escaped: a job's error text is whatever an exception
said.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from chore_common.errors import Forbidden, Unauthorized
from chore_tasks import usecases
from chore_tasks.api.report_queue import reports_section
from chore_tasks.domain.jobs import Job, JobStatus
from chore_tasks.domain.lifecycle import NOTE_MAX
from chore_tasks.domain.model import Actor, Dispute
from chore_tasks.usecases import reports
from chore_tasks.usecases.commands import ListDisputes, ListJobs
from chore_tasks.usecases.ports import UowFactory

PATH: Final = "/tasks/admin/jobs"
PER_STATUS = 50
SHOWN = (JobStatus.FAILED, JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.DONE)
# What each status offers, as (action, label): the admin API refuses anything on a running
# job (its runner holds it), and "run now" on a failed or done one is a retry.
BUTTONS: Final = {
    JobStatus.FAILED: (("retry", "Retry"), ("delete", "Delete")),
    JobStatus.DONE: (("retry", "Retry"), ("delete", "Delete")),
    JobStatus.QUEUED: (("run", "Run now"), ("delete", "Delete")),
    JobStatus.RUNNING: (),
}
SCRIPT: Final = Path(__file__).with_name("admin_page.js").read_text(encoding="utf-8")
_SCRIPT_HASH: Final = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
SECURITY_HEADERS: Final = {
    # Only the page's own script runs; it talks to this origin (the gateway) alone, and the
    # form never submits itself (the script sends it), so a password never lands in a URL.
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{_SCRIPT_HASH}'; "
        "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
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
color:#9b1c1c;max-width:40rem}.empty{color:#6b7280}td.actions{white-space:nowrap}
#notice{min-height:1.2rem}#notice.error{color:#9b1c1c}#notice.ok{color:#17653a}
form{background:#fff;border:1px solid #d9dce3;padding:1rem;max-width:26rem}
label{display:block;margin:.5rem 0}input{display:block;width:100%;padding:.3rem;
box-sizing:border-box}button{margin-right:.3rem;cursor:pointer}
"""


def wants_html(request: web.Request) -> bool:
    """Whether the client ranks HTML above JSON (a browser), by `Accept` order."""
    accept = request.headers.get("Accept", "")
    html, json = accept.find("text/html"), accept.find("application/json")
    return html >= 0 and (json < 0 or html < json)


@web.middleware
async def sign_in_for_browsers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A browser refused the page gets the sign-in form instead of a problem+json, with the
    same status. Goes before the bearer middleware, which is what refuses it."""
    if request.path != PATH or request.method != "GET" or not wants_html(request):
        return await handler(request)
    try:
        return await handler(request)
    except Unauthorized:
        return sign_in_page(401, "Sign in with an admin account to see the scheduler's jobs.")
    except Forbidden:
        return sign_in_page(403, "This account is not an admin: sign in with an admin account.")


async def jobs_page(uow: UowFactory, who: Actor, now: datetime) -> web.Response:
    disputes = await usecases.list_disputes(uow(), ListDisputes(actor=who, limit=PER_STATUS), now)
    reported = await reports.list_reports(uow(), who, closed=False, limit=PER_STATUS, after=None)
    sections: list[tuple[JobStatus, list[Job]]] = []
    for status in SHOWN:
        cmd = ListJobs(actor=who, status=status, limit=PER_STATUS)
        page = await usecases.list_jobs(uow(), cmd, now)
        sections.append((status, page.items))
    queue = _disputes(disputes.items) + reports_section(reported.items)
    return _response(200, _document(jobs=queue + _jobs(sections, now)))


def sign_in_page(status: int, message: str) -> web.Response:
    response = _response(status, _document(notice=message, signed_out=True))
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _response(status: int, text: str) -> web.Response:
    return web.Response(
        status=status, text=text, content_type="text/html", headers=SECURITY_HEADERS
    )


def _document(*, jobs: str = "", notice: str = "", signed_out: bool = False) -> str:
    hidden = "" if signed_out else " hidden"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width'>"
        "<title>Tasks admin: disputes, reports and scheduler jobs</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>Tasks admin: disputes, reports and scheduler jobs</h1>"
        '<p id="account" hidden>Signed in as <b id="who"></b>. '
        '<button type="button" id="refresh">Refresh</button>'
        '<button type="button" id="sign-out">Sign out</button></p>'
        f'<p id="notice" role="status" aria-live="polite">{escape(notice)}</p>'
        f'<form id="sign-in" method="post"{hidden}>'
        "<p>Sign in through the gateway with an admin account: <code>make run</code> prints "
        "its admin login (kept in <code>var/admin.json</code>); <code>chore-auth admin "
        "create</code> makes another.</p>"
        '<label>Email <input id="email" name="email" type="email" autocomplete="username" '
        "required></label>"
        '<label>Password <input id="password" name="password" type="password" '
        'autocomplete="current-password" required></label>'
        '<button type="submit">Sign in</button></form>'
        f'<main id="jobs">{jobs}</main>'
        "<noscript><p>Signing in and changing jobs need JavaScript.</p></noscript>"
        f"<script>{SCRIPT}</script></body></html>"
    )


def _jobs(sections: list[tuple[JobStatus, list[Job]]], now: datetime) -> str:
    counts = "".join(
        f'<span class="{s.value}" id="count-{s.value}">{s.value}: {len(jobs)}'
        f"{'+' if len(jobs) >= PER_STATUS else ''}</span>"
        for s, jobs in sections
    )
    body = "".join(_section(status, jobs) for status, jobs in sections)
    return (
        f"<p>As of {escape(now.isoformat(timespec='seconds'))}.</p>"
        f'<p class="counts">{counts}</p>{body}'
    )


def _disputes(disputes: list[Dispute]) -> str:
    """Open disputes, oldest first: the owner's reason, and a note and two buttons each."""
    head = '<section id="disputes"><h2 class="disputes">Disputes</h2>'
    if not disputes:
        return f'{head}<p class="empty">No open disputes.</p></section>'
    rows = "".join(_dispute_row(d) for d in disputes)
    return (
        f"{head}<table><thead><tr><th>Task</th><th>Title</th><th>Owner</th><th>Assignee</th>"
        "<th>Opened</th><th>Reason</th><th>Resolution</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _dispute_row(dispute: Dispute) -> str:
    task_id = escape(str(dispute.task_id))
    cells = [
        task_id,
        escape(dispute.title),
        escape(str(dispute.owner_id)),
        escape(str(dispute.assignee_id)),
        escape(dispute.created_at.isoformat(timespec="seconds")),
    ]
    tds = "".join(f"<td>{cell}</td>" for cell in cells)
    note = (
        f'<input class="note" name="note" maxlength="{NOTE_MAX}" required '
        f'aria-label="Note for both sides" placeholder="Note for both sides">'
    )
    buttons = (
        '<button type="button" data-resolve="completed">Complete</button>'
        '<button type="button" data-resolve="cancelled">Cancel task</button>'
    )
    return (
        f'<tr data-task="{task_id}">{tds}<td class="reason">{escape(dispute.reason)}</td>'
        f'<td class="actions">{note}{buttons}</td></tr>'
    )


def _section(status: JobStatus, jobs: list[Job]) -> str:
    head = f'<section id="{status.value}"><h2 class="{status.value}">{status.value.title()}</h2>'
    if not jobs:
        return f'{head}<p class="empty">No {status.value} jobs.</p></section>'
    rows = "".join(_row(job) for job in jobs)
    return (
        f"{head}<table><thead><tr><th>Job</th><th>Kind</th><th>Task</th><th>Run at</th>"
        "<th>Tries</th><th>Last error</th><th>Updated</th><th>Actions</th></tr></thead>"
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
    buttons = "".join(
        f'<button type="button" data-action="{action}">{label}</button>'
        for action, label in BUTTONS[job.status]
    )
    row_id = escape(str(job.id))
    return (
        f'<tr data-job="{row_id}">{tds}<td class="error">{error}</td><td>{updated}</td>'
        f'<td class="actions">{buttons}</td></tr>'
    )
