"""Users' reports of a message, and the admin's answer to each (pure).

Only a participant of the conversation reports one of its messages, and only one the other
participant sent. A report keeps a copy of the message's body, so the admins' queue shows
what was reported. The admin's answer follows the kit's rules (`chore_common.reports.rules`):
an open report is dismissed (nothing wrong) or resolved (acted on), once, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final
from uuid import UUID

from chore_common.errors import Forbidden, InvalidInput
from chore_common.reports.rules import NOTE_MAX, ReportAction, ReportStatus, answer
from chore_messaging.domain.model import Message

REASON_MAX: Final = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    id: UUID
    conversation_id: UUID
    message_id: UUID
    reporter_id: UUID
    subject_id: UUID  # the message's sender
    reason: str
    content: str
    created_at: datetime
    status: ReportStatus = ReportStatus.OPEN
    note: str | None = None
    closed_by: UUID | None = None
    closed_at: datetime | None = None


def _text(name: str, value: str, max_len: int) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{name} must not be blank", code="blank_text")
    if len(value) > max_len:
        raise InvalidInput(f"{name} is longer than {max_len} characters", code="text_too_long")
    return value


def file_report(
    message: Message, *, report_id: UUID, reporter_id: UUID, reason: str, now: datetime
) -> Report:
    """A participant's report of a message in their conversation (checked by the caller)."""
    reason = _text("reason", reason, REASON_MAX)
    if message.sender_id == reporter_id:
        raise Forbidden("you cannot report your own message", code="own_content")
    return Report(
        id=report_id,
        conversation_id=message.conversation_id,
        message_id=message.id,
        reporter_id=reporter_id,
        subject_id=message.sender_id,
        reason=reason,
        content=message.body,
        created_at=now,
    )


def close_report(
    report: Report, action: ReportAction, *, by: UUID, note: str, now: datetime
) -> Report:
    """The admin's answer (the caller checked the role); an answered report is 409."""
    note = _text("note", note, NOTE_MAX)
    status = answer(report.status, action)
    return replace(report, status=status, note=note, closed_by=by, closed_at=now)
