"""The admin's answer to a report, pure: an open report is dismissed (nothing wrong) or
resolved (acted on), once. Moves are a table; any other pair is 409 `invalid_transition`.

```python
status = answer(report.status, ReportAction.RESOLVE)   # InvalidReportTransition if answered
report = replace(report, status=status, note=note, closed_by=admin_id, closed_at=now)
```
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from chore_common.errors import Conflict

NOTE_MAX: Final = 500  # the admin's note


class ReportStatus(StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"
    RESOLVED = "resolved"


class ReportAction(StrEnum):
    DISMISS = "dismiss"
    RESOLVE = "resolve"


MOVES: Final[dict[tuple[ReportStatus, ReportAction], ReportStatus]] = {
    (ReportStatus.OPEN, ReportAction.DISMISS): ReportStatus.DISMISSED,
    (ReportStatus.OPEN, ReportAction.RESOLVE): ReportStatus.RESOLVED,
}


class InvalidReportTransition(
    Conflict, code="invalid_transition", title="Invalid state transition"
):
    def __init__(self, status: ReportStatus, action: ReportAction) -> None:
        super().__init__(f"cannot {action.value} a report that is {status.value}")


def answer(status: ReportStatus, action: ReportAction) -> ReportStatus:
    """The status `action` moves a report in `status` to; an answered report takes none."""
    try:
        return MOVES[status, action]
    except KeyError:
        raise InvalidReportTransition(status, action) from None
