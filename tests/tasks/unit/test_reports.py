"""The report rules (domain/reports.py), pure: who may file one, what it keeps, and the
admin's answers as a table."""

from __future__ import annotations

from uuid import uuid4

import pytest

from chore_common.errors import Conflict, Forbidden, InvalidInput
from chore_tasks.domain import reports
from chore_tasks.domain.reports import ReportAction, ReportStatus, ReportTarget

from .factories import NOW, admin, client, make_offer, make_task, tasker


def test_a_task_report_keeps_the_task_as_seen_and_names_its_owner() -> None:
    task = make_task()
    reporter = tasker()
    filed = reports.file_report(
        task, None, report_id=uuid4(), reporter=reporter, reason="  Scam  ", now=NOW
    )
    assert (filed.target, filed.target_id, filed.task_id) == (ReportTarget.TASK, task.id, task.id)
    assert (filed.subject_id, filed.reporter_id) == (task.owner_id, reporter.user_id)
    assert filed.reason == "Scam"
    assert filed.content == f"{task.title}\n\n{task.description}"
    assert filed.status is ReportStatus.OPEN


def test_an_offer_report_names_its_tasker_and_keeps_its_message() -> None:
    task = make_task()
    offer = make_offer(task)
    filed = reports.file_report(
        task, offer, report_id=uuid4(), reporter=client(), reason="Rude", now=NOW
    )
    assert (filed.target, filed.target_id, filed.subject_id) == (
        ReportTarget.OFFER, offer.id, offer.tasker_id,
    )  # fmt: skip
    assert filed.content.endswith(offer.message)


@pytest.mark.parametrize(
    ("reason", "error"), [("", InvalidInput), ("   ", InvalidInput), ("x" * 501, InvalidInput)]
)
def test_a_reason_is_1_to_500_characters(reason: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        reports.file_report(
            make_task(), None, report_id=uuid4(), reporter=tasker(), reason=reason, now=NOW
        )


def test_nobody_reports_what_they_wrote() -> None:
    owner = client()
    task = make_task(owner=owner)
    with pytest.raises(Forbidden):
        reports.file_report(task, None, report_id=uuid4(), reporter=owner, reason="r", now=NOW)


ANSWERS = [
    (ReportStatus.OPEN, ReportAction.DISMISS, ReportStatus.DISMISSED),
    (ReportStatus.OPEN, ReportAction.RESOLVE, ReportStatus.RESOLVED),
    (ReportStatus.DISMISSED, ReportAction.DISMISS, None),
    (ReportStatus.DISMISSED, ReportAction.RESOLVE, None),
    (ReportStatus.RESOLVED, ReportAction.DISMISS, None),
    (ReportStatus.RESOLVED, ReportAction.RESOLVE, None),
]


@pytest.mark.parametrize(("status", "action", "after"), ANSWERS)
def test_an_admin_answers_an_open_report_once(
    status: ReportStatus, action: ReportAction, after: ReportStatus | None
) -> None:
    filed = reports.file_report(
        make_task(), None, report_id=uuid4(), reporter=tasker(), reason="r", now=NOW
    )
    report = reports.Report(**{**{f: getattr(filed, f) for f in filed.__dataclass_fields__},
                               "status": status})  # fmt: skip
    who = admin()
    if after is None:
        with pytest.raises(Conflict):
            reports.close_report(report, action, by=who, note="n", now=NOW)
        return
    closed = reports.close_report(report, action, by=who, note=" Done ", now=NOW)
    assert (closed.status, closed.note, closed.closed_by, closed.closed_at) == (
        after, "Done", who.user_id, NOW,
    )  # fmt: skip


def test_only_an_admin_answers_and_with_a_note() -> None:
    filed = reports.file_report(
        make_task(), None, report_id=uuid4(), reporter=tasker(), reason="r", now=NOW
    )
    with pytest.raises(Forbidden):
        reports.close_report(filed, ReportAction.RESOLVE, by=client(), note="n", now=NOW)
    with pytest.raises(InvalidInput):
        reports.close_report(filed, ReportAction.RESOLVE, by=admin(), note=" ", now=NOW)
