"""People as tasks knows them: a name and an account status, learnt from auth's events.

Tasks never calls auth: `auth.user.registered` and `auth.user.profile_updated` give the name,
`auth.user.status_changed` the status, `auth.user.deleted` the end. Deletion is final here:
later events about the id change nothing. The figures shown beside a name (rating, completed
tasks) are tasks' own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from uuid import UUID

DELETED_NAME: Final = "Deleted user"


class PersonStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    BANNED = "banned"
    DELETED = "deleted"


# What each status means for the person's work on the marketplace, one row each:
# (their open tasks hidden from browse, their open offers withdrawn).
EFFECTS: Final[dict[PersonStatus, tuple[bool, bool]]] = {
    PersonStatus.ACTIVE: (False, False),
    PersonStatus.SUSPENDED: (True, True),
    PersonStatus.BANNED: (True, True),
    PersonStatus.DELETED: (True, True),
}

HIDDEN: Final = frozenset(s for s, (hidden, _) in EFFECTS.items() if hidden)


def status_of(text: str) -> PersonStatus:
    """auth's status word; one tasks does not know counts as active (nothing taken away)."""
    try:
        return PersonStatus(text)
    except ValueError:
        return PersonStatus.ACTIVE


def withdraws_offers(status: PersonStatus) -> bool:
    return EFFECTS[status][1]


@dataclass(frozen=True, slots=True)
class PersonCard:
    """The other person, as offers show them: `name` is None until tasks heard of them."""

    id: UUID
    name: str | None
    rating_mean: float | None
    rating_count: int
    completed_count: int
