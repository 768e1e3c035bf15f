"""Reporting a message, and the admins' queue of message reports.

Only a participant of the conversation may report one of its messages: anyone else gets the
404 a missing conversation gets, and a message of another conversation is 404 too.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from chore_common.errors import Forbidden
from chore_common.paging import Page, PageKey
from chore_common.reports.rules import InvalidReportTransition, ReportAction
from chore_messaging.domain import reports
from chore_messaging.domain.errors import ConversationNotFound, MessageNotFound, ReportNotFound
from chore_messaging.domain.reports import Report
from chore_messaging.usecases.ports import Caller, MessagingUnitOfWork


async def report_message(
    uow: MessagingUnitOfWork,
    reporter_id: UUID,
    conversation_id: UUID,
    message_id: UUID,
    *,
    reason: str,
    now: datetime,
) -> Report:
    async with uow:
        conversation = await uow.conversations.get(conversation_id)
        if conversation is None or not conversation.has(reporter_id):
            raise ConversationNotFound("no such conversation")
        message = await uow.reports.message(message_id)
        if message is None or message.conversation_id != conversation.id:
            raise MessageNotFound("no such message in this conversation")
        filed = reports.file_report(
            message, report_id=uuid4(), reporter_id=reporter_id, reason=reason, now=now
        )
        await uow.reports.add(filed)
        await uow.commit()
    return filed


def _ensure_admin(caller: Caller) -> None:
    if caller.role != "admin":
        raise Forbidden("admins only", code="role_forbidden")


async def list_reports(
    uow: MessagingUnitOfWork, caller: Caller, *, closed: bool, limit: int, after: PageKey | None
) -> Page[Report]:
    _ensure_admin(caller)
    async with uow:
        return await uow.reports.list(closed=closed, limit=limit, after=after)


async def close_report(
    uow: MessagingUnitOfWork,
    caller: Caller,
    report_id: UUID,
    action: ReportAction,
    *,
    note: str,
    now: datetime,
) -> Report:
    """Dismiss or resolve an open report (admins); a second answer is 409."""
    _ensure_admin(caller)
    async with uow:
        found = await uow.reports.get(report_id)
        if found is None:
            raise ReportNotFound(f"no report {report_id}")
        closed = reports.close_report(found, action, by=caller.user_id, note=note, now=now)
        if not await uow.reports.close(closed):
            raise InvalidReportTransition(closed.status, action)
        await uow.commit()
    return closed
