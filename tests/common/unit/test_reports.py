"""The kit's reports (chore_common.reports), pure: the admin's answer, the table a service
gets from `add_reports_table`, and the routes `admin_report_routes` declares. Each service's
HTTP tests (tests/tasks/integration/test_http_reports.py, tests/messaging/integration/
test_reports_rest.py) drive the same code against a real database."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel
from sqlalchemy import Column, MetaData, String, Uuid
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex

from chore_common.auth.principal import REQUIRES_ATTR
from chore_common.errors import Conflict, NotFound
from chore_common.http.openapi import OPERATION_ATTR
from chore_common.http.pagination import PageQuery
from chore_common.http.validation import OutModel
from chore_common.paging import Page, PageKey
from chore_common.reports.routes import admin_report_routes
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


class WidgetReportOut(OutModel):
    id: UUID


class WidgetReportQuery(PageQuery):
    state: str = "open"


class WidgetReportPage(BaseModel):
    items: list[WidgetReportOut]
    next_cursor: str | None = None


class WidgetReportNotFound(NotFound, code="widget_report_not_found"): ...


async def _list(
    uow: object, caller: object, /, *, closed: bool, limit: int, after: PageKey | None
) -> Page[object]:
    return Page([], None)


async def _close(uow: object, caller: object, report_id: UUID, action: ReportAction, /,
                 **_: object) -> object:  # fmt: skip
    return object()


def test_the_admin_queue_is_three_admin_only_routes_under_the_service_s_path() -> None:
    routes = admin_report_routes(
        "/widgets/admin/reports",
        reports="Reports of widgets",
        report="widget report",
        not_found=WidgetReportNotFound,
        query=WidgetReportQuery,
        out=WidgetReportOut,
        page=WidgetReportPage,
        unit_of_work=lambda request: object(),
        caller=lambda request: object(),
        list_reports=_list,
        close_report=_close,
    )
    declared = [op for route in routes for op in getattr(route.handler, OPERATION_ATTR)]
    assert [(op.method, op.path, op.handler_name) for op in declared] == [
        ("GET", "/widgets/admin/reports", "list_reports"),
        ("POST", "/widgets/admin/reports/{report_id}/dismiss", "dismiss_report"),
        ("POST", "/widgets/admin/reports/{report_id}/resolve", "resolve_report"),
    ]
    assert [op.summary for op in declared] == [
        "Reports of widgets, oldest first: open ones (the default) or answered ones (admins)",
        "Dismiss an open widget report (nothing wrong), with a note (admins)",
        "Resolve an open widget report (acted on), with a note (admins)",
    ]
    assert [op.response for op in declared] == [WidgetReportPage, WidgetReportOut, WidgetReportOut]
    assert [op.errors for op in declared] == [(403,), (403, 404, 409), (403, 404, 409)]
    gates = [getattr(route.handler, REQUIRES_ATTR).roles for route in routes]
    assert gates == [frozenset({"admin"})] * 3
