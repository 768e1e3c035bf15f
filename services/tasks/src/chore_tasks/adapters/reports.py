"""Users' reports and the admin's queue of them (`usecases/reports.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chore_common.paging import Page
from chore_common.reports.rules import ReportStatus
from chore_common.reports.storage import save_answer
from chore_tasks.adapters.repository import _insert_unique, _keyset, _ordered, _page
from chore_tasks.adapters.tables import REPORTS
from chore_tasks.domain.reports import Report, ReportTarget
from chore_tasks.usecases.ports import ReportFilter

CLOSED = (ReportStatus.DISMISSED.value, ReportStatus.RESOLVED.value)


def report_of(row: Mapping[Any, Any]) -> Report:
    return Report(
        **{**row, "target": ReportTarget(row["target"]), "status": ReportStatus(row["status"])}
    )


def _values(report: Report) -> dict[str, Any]:
    values = {name: getattr(report, name) for name in report.__dataclass_fields__}
    values["target"], values["status"] = report.target.value, report.status.value
    return values


class ReportRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, report_id: UUID) -> Report | None:
        row = (
            (await self.conn.execute(select(REPORTS).where(REPORTS.c.id == report_id)))
            .mappings()
            .first()
        )
        return report_of(row) if row else None

    async def add(self, report: Report) -> None:
        await _insert_unique(
            self.conn,
            insert(REPORTS),
            _values(report),
            "you already have an open report of this; an admin will look at it",
            code="report_exists",
        )

    async def close(self, report: Report) -> bool:
        return await save_answer(self.conn, REPORTS, report)

    async def list(self, query: ReportFilter) -> Page[Report]:
        state = (
            REPORTS.c.status.in_(CLOSED)
            if query.closed
            else REPORTS.c.status == ReportStatus.OPEN.value
        )
        stmt = (
            select(REPORTS)
            .where(state, _keyset(REPORTS, query.after, newest_first=False))
            .order_by(*_ordered(REPORTS, newest_first=False))
        )
        return await _page(self.conn, stmt, query.limit, report_of)
