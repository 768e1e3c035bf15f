"""Users' reports of messages and the admins' queue of them (`usecases/reports.py`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, tuple_
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chore_common.errors import Conflict
from chore_common.paging import Page, PageKey
from chore_common.reports.rules import ReportStatus
from chore_common.reports.storage import save_answer
from chore_messaging.adapters.repository import _message
from chore_messaging.adapters.tables import MESSAGES, REPORTS
from chore_messaging.domain.model import Message
from chore_messaging.domain.reports import Report

CLOSED = (ReportStatus.DISMISSED.value, ReportStatus.RESOLVED.value)


def _report(row: RowMapping) -> Report:
    return Report(**{**row, "status": ReportStatus(row["status"])})


class ReportRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def message(self, message_id: UUID) -> Message | None:
        """The reported message (any conversation's: the use case checks whose)."""
        row = (
            (await self.conn.execute(select(MESSAGES).where(MESSAGES.c.id == message_id)))
            .mappings()
            .first()
        )
        return _message(row) if row else None

    async def get(self, report_id: UUID) -> Report | None:
        row = (
            (await self.conn.execute(select(REPORTS).where(REPORTS.c.id == report_id)))
            .mappings()
            .first()
        )
        return _report(row) if row else None

    async def add(self, report: Report) -> None:
        values: dict[str, Any] = {n: getattr(report, n) for n in report.__dataclass_fields__}
        values["status"] = report.status.value
        try:
            # A savepoint: the unique index's refusal leaves the transaction usable.
            async with self.conn.begin_nested():
                await self.conn.execute(insert(REPORTS), values)
        except IntegrityError as exc:
            text = str(exc.orig).lower()
            if "unique" in text or "duplicate key" in text:
                raise Conflict(
                    "you already have an open report of this message; an admin will look at it",
                    code="report_exists",
                ) from None
            raise

    async def close(self, report: Report) -> bool:
        """Save an open report's answer; False when another admin answered it first."""
        return await save_answer(self.conn, REPORTS, report)

    async def list(self, *, closed: bool, limit: int, after: PageKey | None) -> Page[Report]:
        """Oldest first: the queue is worked from its front."""
        query = select(REPORTS).where(
            REPORTS.c.status.in_(CLOSED) if closed else REPORTS.c.status == "open"
        )
        if after is not None:
            key = tuple_(REPORTS.c.created_at, REPORTS.c.id)
            query = query.where(key > (after.created_at, after.id))
        query = query.order_by(REPORTS.c.created_at, REPORTS.c.id).limit(limit + 1)
        items = [_report(r) for r in (await self.conn.execute(query)).mappings()]
        more = len(items) > limit
        items = items[:limit]
        key_out = PageKey(items[-1].created_at, items[-1].id) if more and items else None
        return Page(items, key_out)
