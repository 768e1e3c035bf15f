"""A service's reports table, added to its own MetaData by one call, and the one write every
service's queue makes the same way: saving the admin's answer.

```python
REPORTS = add_reports_table(
    metadata,
    "widget_reports",
    Column("widget_id", Uuid, nullable=False),
    reported="widget_id",
)
```

The service names the table and gives the columns that say what is reported (they follow
`id`); the kit adds who reported whom, why, the copy of what was reported, the admin's
answer, and the two indexes, named after the table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import Column, Index, MetaData, String, Table, Text, Uuid, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chore_common.db.types import UtcDateTime
from chore_common.reports.rules import ReportStatus


class Answered(Protocol):
    """A report as the domain left it after the admin's answer."""

    @property
    def id(self) -> UUID: ...
    @property
    def status(self) -> ReportStatus: ...
    @property
    def note(self) -> str | None: ...
    @property
    def closed_by(self) -> UUID | None: ...
    @property
    def closed_at(self) -> datetime | None: ...


def add_reports_table(
    metadata: MetaData, name: str, *reported_columns: Column[Any], reported: str
) -> Table:
    """`reported` is the column naming the reported object: one open report per reporter
    and object, kept by a partial unique index even when two requests race past the check."""
    return Table(
        name,
        metadata,
        Column("id", Uuid, primary_key=True),
        *reported_columns,
        Column("reporter_id", Uuid, nullable=False),
        Column("subject_id", Uuid, nullable=False),  # who wrote what is reported
        Column("reason", String(500), nullable=False),
        Column("content", Text, nullable=False),
        Column("status", String(16), nullable=False),
        Column("note", String(500), nullable=True),
        Column("closed_by", Uuid, nullable=True),
        Column("closed_at", UtcDateTime, nullable=True),
        Column("created_at", UtcDateTime, nullable=False),
        # The admin's queue: open (or answered) reports, oldest first.
        Index(f"ix_{name}_status_created", "status", "created_at", "id"),
        Index(
            f"uq_{name}_open_per_reporter",
            "reporter_id",
            reported,
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )


async def save_answer(conn: AsyncConnection, table: Table, report: Answered) -> bool:
    """Save the answer to a report that is still open; False when another admin answered it
    between the use case's read and this write (only one of two racing answers lands)."""
    stmt = (
        update(table)
        .where(table.c.id == report.id, table.c.status == ReportStatus.OPEN.value)
        .values(
            status=report.status.value,
            note=report.note,
            closed_by=report.closed_by,
            closed_at=report.closed_at,
        )
    )
    return (await conn.execute(stmt)).rowcount == 1
