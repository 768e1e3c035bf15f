"""The owner's edit of an open task: which fields may change, how each is checked, and the
history entry a task with offers keeps.

`EDITABLE` is the one list of editable fields: adding one is one line (its name and its
check). An edit names only the fields it changes; a value equal to the current one is no
change. A task that has offers keeps every edit (`TaskEdit`, old and new value per field),
and its open offers' taskers hear of it through `tasks.task.edited`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final
from uuid import UUID

from chore_common.errors import InvalidInput
from chore_tasks.domain import lifecycle, policies
from chore_tasks.domain.events import TaskEdited
from chore_tasks.domain.model import (
    DESCRIPTION_MAX,
    TITLE_MAX,
    Action,
    Actor,
    Location,
    Task,
    require_aware,
    require_cents,
    require_location,
    require_text,
)

Check = Callable[[Any, datetime], None]


def _required(name: str, value: Any, kind: type) -> None:
    if not isinstance(value, kind):
        raise InvalidInput(f"{name} must be a {kind.__name__}", code="not_nullable")


def _title(value: Any, now: datetime) -> None:
    _required("title", value, str)
    require_text("title", value, max_len=TITLE_MAX)


def _description(value: Any, now: datetime) -> None:
    _required("description", value, str)
    require_text("description", value, max_len=DESCRIPTION_MAX, allow_empty=True)


def _budget(value: Any, now: datetime) -> None:
    _required("budget_cents", value, int)
    require_cents("budget_cents", value)


def _due_at(value: Any, now: datetime) -> None:
    # None takes the due time away: the task then never expires.
    require_aware("due_at", value)
    if value is not None and value <= now:
        raise InvalidInput("due_at must be in the future", code="due_in_past")


def _location(value: Any, now: datetime) -> None:
    # None takes the location away; a new one needs its point (`require_location`).
    if value is not None:
        _required("location", value, Location)
        require_location(value)


EDITABLE: Final[Mapping[str, Check]] = MappingProxyType(
    {
        "title": _title,
        "description": _description,
        "budget_cents": _budget,
        "due_at": _due_at,
        "location": _location,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskEdit:
    """One saved edit: field -> {"from": old, "to": new}, JSON-ready."""

    id: UUID
    task_id: UUID
    editor_id: UUID
    changes: dict[str, dict[str, Any]]
    version: int  # the task's, after the edit
    created_at: datetime


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Location):
        return asdict(value)
    return value


def edit(
    task: Task,
    fields: Mapping[str, Any],
    *,
    by: Actor,
    edit_id: UUID,
    offerer_ids: tuple[UUID, ...],
    has_offers: bool,
    now: datetime,
) -> tuple[Task, TaskEdited, TaskEdit | None]:
    """Apply the owner's changes to an open task. Returns the task, the event and, when the
    task has offers, the history entry to keep."""
    policies.ensure_can_act(task, by, Action.EDIT)
    moved = lifecycle.move(task, Action.EDIT, now)  # the state (409) before the values (422)
    unknown = sorted(set(fields) - set(EDITABLE))
    if unknown:
        raise InvalidInput(f"not editable: {', '.join(unknown)}", code="not_editable")
    changed = {k: v for k, v in fields.items() if getattr(task, k) != v}
    if not changed:
        raise InvalidInput("the edit changes nothing", code="no_change")
    for name, value in changed.items():
        EDITABLE[name](value, now)
    moved = replace(moved, **changed)
    event = lifecycle.task_event(
        TaskEdited,
        moved,
        now,
        changes={k: jsonable(v) for k, v in changed.items()},
        offerer_ids=offerer_ids,
    )
    history = None
    if has_offers:
        history = TaskEdit(
            id=edit_id,
            task_id=task.id,
            editor_id=by.user_id,
            changes={
                k: {"from": jsonable(getattr(task, k)), "to": jsonable(v)}
                for k, v in changed.items()
            },
            version=moved.version,
            created_at=now,
        )
    return moved, event, history
