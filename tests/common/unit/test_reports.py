"""The kit's report rules (chore_common.reports.rules), pure: the admin's answer."""

from __future__ import annotations

import pytest

from chore_common.errors import Conflict
from chore_common.reports.rules import (
    InvalidReportTransition,
    ReportAction,
    ReportStatus,
    answer,
)


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
