"""The Reports section of the tasks admin page (admin_page.py): open reports of tasks and
offers, rendered here, and an empty table for message reports, which the page's script
fills from messaging's `/messaging/admin/reports` through the gateway (each service keeps
its own reports; docs/tasks.md, "Reports"). Every value is escaped: reports quote users."""

from __future__ import annotations

from html import escape

from chore_common.reports.rules import NOTE_MAX
from chore_tasks.domain.reports import Report

HEAD = (
    "<thead><tr><th>Reported</th><th>Content</th><th>Author</th><th>Reporter</th>"
    "<th>Opened</th><th>Reason</th><th>Answer</th></tr></thead>"
)


def reports_section(reports: list[Report]) -> str:
    rows = "".join(_row(r) for r in reports)
    tasks = (
        f'<table id="task-reports">{HEAD}<tbody>{rows}</tbody></table>'
        if reports
        else '<p class="empty" id="task-reports">No open reports of tasks or offers.</p>'
    )
    # Filled by admin_page.js from messaging; says so until it is.
    messages = (
        f'<table id="message-reports" hidden>{HEAD}<tbody></tbody></table>'
        '<p class="empty" id="message-reports-state">Message reports load after sign-in.</p>'
    )
    return (
        '<section id="reports"><h2 class="reports">Reports</h2>'
        f"<h3>Tasks and offers</h3>{tasks}<h3>Messages</h3>{messages}</section>"
    )


def _row(report: Report) -> str:
    what = f"{report.target.value} {report.target_id}"
    if report.target_id != report.task_id:
        what += f" on task {report.task_id}"
    cells = [
        escape(what),
        f'<span class="content">{escape(report.content)}</span>',
        escape(str(report.subject_id)),
        escape(str(report.reporter_id)),
        escape(report.created_at.isoformat(timespec="seconds")),
        f'<span class="reason">{escape(report.reason)}</span>',
    ]
    tds = "".join(f"<td>{cell}</td>" for cell in cells)
    return (
        f'<tr data-report="{escape(str(report.id))}" data-service="tasks">{tds}'
        f'<td class="actions">{answer_controls()}</td></tr>'
    )


def answer_controls() -> str:
    """A note and the two answers (the script builds the same for message reports)."""
    return (
        f'<input class="note" name="note" maxlength="{NOTE_MAX}" required '
        'aria-label="Note on the report" placeholder="Note">'
        '<button type="button" data-report-action="dismiss">Dismiss</button>'
        '<button type="button" data-report-action="resolve">Resolve</button>'
    )
