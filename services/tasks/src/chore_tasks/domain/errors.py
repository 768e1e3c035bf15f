"""The tasks domain's errors. Each subclasses a `chore_common.errors` base, which alone decides
the HTTP status; `code` is what clients branch on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chore_common.errors import Conflict, NotFound

if TYPE_CHECKING:
    from chore_tasks.domain.model import Action, OfferAction, OfferStatus, Status


class InvalidTransition(Conflict, code="invalid_transition", title="Invalid state transition"):
    """The lifecycle has no move for this (status, action) pair."""

    def __init__(self, status: Status, action: Action) -> None:
        super().__init__(f"cannot {action.value} a task that is {status.value}")
        self.status = status
        self.action = action


class InvalidOfferTransition(Conflict, code="invalid_transition", title="Invalid state transition"):
    """The offer table has no move for this (status, action) pair."""

    def __init__(self, status: OfferStatus, action: OfferAction) -> None:
        super().__init__(f"cannot {action.value} an offer that is {status.value}")
        self.status = status
        self.action = action


class StaleVersion(Conflict, code="concurrent_update", title="Concurrent update"):
    """Someone saved the row after we loaded it; the loser's change is refused whole."""


class TaskNotFound(NotFound, code="task_not_found", title="Task not found"): ...


class OfferNotFound(NotFound, code="offer_not_found", title="Offer not found"): ...


class ReportNotFound(NotFound, code="report_not_found", title="Report not found"): ...


class JobNotFound(NotFound, code="job_not_found", title="Job not found"): ...


class UserNotFound(NotFound, code="user_not_found", title="User not found"):
    """Only for a path id that is not a UUID: tasks knows users by id alone, so an unknown
    user simply has no reviews."""
