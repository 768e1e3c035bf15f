"""People as messaging knows them: a name from auth's events and a record from tasks' events.

Messaging never calls another service: `auth.user.registered` and `auth.user.profile_updated`
give the name, `auth.user.deleted` makes it "Deleted user" for good, and tasks'
`tasks.review.published` and `tasks.task.completed` add to the rating and to the count of
completed tasks (both sides of a completed task count it, as tasks does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

DELETED_NAME: Final = "Deleted user"

# Where notifications made before `person_id` was recorded name the other person.
_PERSON_KEYS: Final = ("person_id", "author_id", "tasker_id", "assignee_id", "former_assignee_id")


@dataclass(frozen=True, slots=True)
class Person:
    """`name` is None until messaging heard of them."""

    id: UUID
    name: str | None = None
    rating_count: int = 0
    rating_total: int = 0
    completed_count: int = 0

    @property
    def rating_mean(self) -> float | None:
        return round(self.rating_total / self.rating_count, 2) if self.rating_count else None


def counterpart(event: Any, recipient: UUID) -> UUID | None:
    """Who a tasks event is about, to the person it notifies: a review's author; to anyone
    but the owner, the owner; to the owner, the tasker (or assignee) it concerns."""
    author = getattr(event, "author_id", None)
    if author is not None:
        return UUID(str(author))
    owner = getattr(event, "owner_id", None)
    if owner is not None and owner != recipient:
        return UUID(str(owner))
    for key in ("tasker_id", "assignee_id", "former_assignee_id"):
        other = getattr(event, key, None)
        if other is not None and other != recipient:
            return UUID(str(other))
    return None


def person_of(data: Mapping[str, Any], recipient: UUID) -> UUID | None:
    """The other person a stored notification is about (its `person_id`, or for older ones
    the first id in its data that is not the recipient's)."""
    for key in _PERSON_KEYS:
        value = data.get(key)
        if value and value != str(recipient):
            try:
                return UUID(str(value))
            except ValueError:
                continue
    return None
