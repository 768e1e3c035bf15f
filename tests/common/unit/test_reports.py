"""The kit's reports (chore_common.reports), pure: the admin's answer and the table a service
gets from `add_reports_table`. Each service's HTTP tests (tests/tasks/integration/
test_http_reports.py, tests/messaging/integration/test_reports_rest.py) drive the same code
against a real database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Uuid
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex

from chore_common.errors import Conflict
from chore_common.reports.rules import (
    InvalidReportTransition,
    ReportAction,
    ReportStatus,
    answer,
)
from chore_common.reports.storage import add_reports_table


@pytest.mark.parametrize(
    ("action", "status"),
    [(ReportAction.DISMISS, ReportStatus.DISMISSED), (ReportAction.RESOLVE, ReportStatus.RESOLVED)],
)
def test_an_open_report_is_dismissed_or_resolved(
    action: ReportAction, status: ReportStatus
) -> None:
    assert answer(ReportStatus.OPEN, action) is status


@pytest.mark.parametrize("answered", [ReportStatus.DISMISSED, ReportStatus.RESOLVED])
@pytest.mark.parametrize("action", list(ReportAction))
def test_an_answered_report_takes_no_second_answer(
    answered: ReportStatus, action: ReportAction
) -> None:
    with pytest.raises(InvalidReportTransition) as refused:
        answer(answered, action)
    assert isinstance(refused.value, Conflict)  # 409 problem+json
    assert refused.value.code == "invalid_transition"
    assert refused.value.detail == f"cannot {action.value} a report that is {answered.value}"


def _reports_table() -> Any:
    return add_reports_table(
        MetaData(),
        "widget_reports",
        Column("widget_id", Uuid, nullable=False),
        Column("kind", String(16), nullable=False),
        reported="widget_id",
    )


def test_the_service_s_columns_follow_the_id_and_the_kit_s_follow_them() -> None:
    table = _reports_table()
    assert [c.name for c in table.columns] == [
        "id", "widget_id", "kind", "reporter_id", "subject_id", "reason", "content",
        "status", "note", "closed_by", "closed_at", "created_at",
    ]  # fmt: skip
    assert [c.name for c in table.primary_key] == ["id"]
    nullable = {c.name for c in table.columns if c.nullable}
    assert nullable == {"note", "closed_by", "closed_at"}


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()])
def test_one_open_report_per_reporter_and_object_is_a_partial_unique_index(
    dialect: Any,
) -> None:
    indexes = {ix.name: ix for ix in _reports_table().indexes}
    assert set(indexes) == {
        "ix_widget_reports_status_created",
        "uq_widget_reports_open_per_reporter",
    }
    queue = str(CreateIndex(indexes["ix_widget_reports_status_created"]).compile(dialect=dialect))
    assert "(status, created_at, id)" in queue
    one_open = str(
        CreateIndex(indexes["uq_widget_reports_open_per_reporter"]).compile(dialect=dialect)
    )
    assert one_open.startswith("CREATE UNIQUE INDEX")
    assert "(reporter_id, widget_id)" in one_open
    assert one_open.endswith("WHERE status = 'open'")
