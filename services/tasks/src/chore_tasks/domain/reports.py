"""Users' reports of a task or an offer, and the admin's answer to each (pure).

A report keeps a copy of what it is about (`content`) as the reporter saw it, so an edit
after the report cannot hide what was reported. The admin's answer follows the kit's rules
(`chore_common.reports.rules`): an open report is dismissed (nothing wrong) or resolved
(acted on), once, by an admin with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final
from uuid import UUID

from chore_common.errors import Forbidden
from chore_common.reports.rules import NOTE_MAX, ReportAction, ReportStatus, answer
from chore_tasks.domain.model import Actor, Offer, Task, require_text

REASON_MAX: Final = 500
CONTENT_MAX: Final = 12_000  # a task's title and description, or an offer's price and message


class ReportTarget(StrEnum):
    TASK = "task"
    OFFER = "offer"


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    id: UUID
    target: ReportTarget
    target_id: UUID
    task_id: UUID
    reporter_id: UUID
    subject_id: UUID  # who wrote what is reported
    reason: str
    content: str
    created_at: datetime
    status: ReportStatus = ReportStatus.OPEN
    note: str | None = None
    closed_by: UUID | None = None
    closed_at: datetime | None = None


def content_of(task: Task, offer: Offer | None = None) -> str:
    """What the reporter saw: the offer's price and message, or the task's text."""
    if offer is not None:
        text = f"Offer of {offer.price_cents} {offer.currency} (minor units)\n\n{offer.message}"
    else:
        text = f"{task.title}\n\n{task.description}"
    return text[:CONTENT_MAX]


def file_report(
    task: Task,
    offer: Offer | None,
    *,
    report_id: UUID,
    reporter: Actor,
    reason: str,
    now: datetime,
) -> Report:
    """A report of `offer` (or of `task` when None) by someone who can see it."""
    require_text("reason", reason, max_len=REASON_MAX)
    subject = offer.tasker_id if offer is not None else task.owner_id
    if subject == reporter.user_id:
        raise Forbidden("you cannot report what you wrote yourself", code="own_content")
    return Report(
        id=report_id,
        target=ReportTarget.OFFER if offer is not None else ReportTarget.TASK,
        target_id=offer.id if offer is not None else task.id,
        task_id=task.id,
        reporter_id=reporter.user_id,
        subject_id=subject,
        reason=reason.strip(),
        content=content_of(task, offer),
        created_at=now,
    )


def close_report(
    report: Report, action: ReportAction, *, by: Actor, note: str, now: datetime
) -> Report:
    """The admin's answer; an answered report is not answered again (409)."""
    if not by.is_admin:
        raise Forbidden("admins only", code="role_forbidden")
    require_text("note", note, max_len=NOTE_MAX)
    status = answer(report.status, action)
    return replace(report, status=status, note=note.strip(), closed_by=by.user_id, closed_at=now)
