"""The tasks domain's nouns: who acts, tasks, offers and reviews, and where a task is.

Money is a whole number of minor units of `currency` (`money.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from chore_common.errors import Forbidden, InvalidInput

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
COMMENT_MAX = 2000
MESSAGE_MAX = 2000


class Role(StrEnum):
    CLIENT = "client"
    TASKER = "tasker"
    ADMIN = "admin"
    # Never carried by a token: only the scheduler acts as SYSTEM.
    SYSTEM = "system"

    @classmethod
    def from_token(cls, value: str) -> Role:
        """The role a bearer token claims; SYSTEM and unknown roles are refused."""
        # A dict lookup, not `cls(value)`: this runs on every request and the Enum call
        # machinery cost more than the rest of reading the actor.
        role = _TOKEN_ROLES.get(value)
        if role is None:
            if value == cls.SYSTEM.value:
                raise Forbidden("role 'system' is internal", code="role_forbidden")
            raise Forbidden(f"unknown role {value!r}", code="role_forbidden")
        return role


_TOKEN_ROLES: dict[str, Role] = {r.value: r for r in Role if r is not Role.SYSTEM}


class Status(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    DONE = "done"
    DISPUTED = "disputed"


class Action(StrEnum):
    ASSIGN = "assign"
    START = "start"
    COMPLETE = "complete"
    CANCEL = "cancel"
    EXPIRE = "expire"
    # The assignee steps back, or the owner lets them go: the task is open again.
    WITHDRAW = "withdraw"
    RELEASE = "release"
    REPOST = "repost"
    # The owner changes an open task's details; the status stays `open`.
    EDIT = "edit"
    CONFIRM = "confirm"
    AUTO_CONFIRM = "auto_confirm"
    DISPUTE = "dispute"
    # An admin's two ways out of a dispute: one action per outcome keeps MOVES a plain table.
    RESOLVE_COMPLETED = "resolve_completed"
    RESOLVE_CANCELLED = "resolve_cancelled"


class OfferStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    # Another offer was accepted; open again if the task reopens.
    DECLINED = "declined"
    # The tasker took it back (while open, or as the assignee stepping back).
    WITHDRAWN = "withdrawn"
    # The owner let the assignee go.
    RELEASED = "released"


class OfferAction(StrEnum):
    UPDATE = "update"
    WITHDRAW = "withdraw"
    ACCEPT = "accept"
    DECLINE = "decline"
    # The task reopened: declined offers stand again.
    REOPEN = "reopen"
    # The assignee withdrew from, or the owner released, the task.
    STEP_BACK = "step_back"
    RELEASE = "release"


@dataclass(frozen=True, slots=True)
class Actor:
    """Whoever asks: a user from a verified token, or the scheduler."""

    user_id: UUID
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


SCHEDULER = Actor(UUID(int=0), Role.SYSTEM)


ADDRESS_MAX = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    """Where a task is done: WGS84 degrees, and the address as people write it.

    Tasks posted before locations had coordinates keep their free text as `address`, with
    `lat` and `lon` None; a new location always has both.
    """

    lat: float | None
    lon: float | None
    address: str | None = None

    @property
    def has_point(self) -> bool:
        return self.lat is not None and self.lon is not None


def require_location(location: Location | None) -> None:
    if location is None:
        return
    lat, lon = location.lat, location.lon
    if lat is None or lon is None:
        raise InvalidInput("a location needs lat and lon", code="bad_location")
    if not (-90.0 <= lat <= 90.0) or not (-180.0 <= lon <= 180.0):
        raise InvalidInput(
            "lat must be within -90..90 and lon within -180..180", code="bad_location"
        )
    if location.address is not None:
        require_text("address", location.address, max_len=ADDRESS_MAX, allow_empty=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    id: UUID
    owner_id: UUID
    title: str
    description: str
    category: str
    budget_cents: int
    currency: str
    due_at: datetime | None
    location: Location | None
    status: Status
    assignee_id: UUID | None
    offer_id: UUID | None
    cancel_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def etag(self) -> str:
        # The URL names the task, so the version alone identifies the representation.
        return f'"{self.version}"'

    def is_participant(self, actor: Actor) -> bool:
        return actor.user_id in (self.owner_id, self.assignee_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer:
    id: UUID
    task_id: UUID
    tasker_id: UUID
    price_cents: int
    currency: str
    message: str
    status: OfferStatus
    created_at: datetime
    # Bumped by every change, like a task's: the offer's ETag for If-Match.
    version: int
    updated_at: datetime

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


class ConfirmedBy(StrEnum):
    """Who moved a `done` task to `completed`."""

    OWNER = "owner"
    AUTO = "auto"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True, kw_only=True)
class Dispute:
    """The owner's objection to a `done` task and, once an admin settles it, the outcome.
    One per task: a disputed task ends completed or cancelled and is never done again."""

    id: UUID
    task_id: UUID
    owner_id: UUID
    assignee_id: UUID
    title: str
    reason: str
    created_at: datetime
    outcome: Status | None = None
    note: str | None = None
    resolved_by: UUID | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Review:
    """One participant's rating of the other. Hidden (`visible_at` None) until both have
    written or `reveal_at` (the task's completion plus the blind period) has passed."""

    id: UUID
    task_id: UUID
    author_id: UUID
    subject_id: UUID
    rating: int
    comment: str
    created_at: datetime
    reveal_at: datetime
    visible_at: datetime | None = None


def require_aware(name: str, value: datetime | None) -> None:
    # Naive datetimes compare wrongly against the scheduler's UTC clock.
    if value is not None and value.utcoffset() is None:
        raise InvalidInput(f"{name} must carry a timezone", code="naive_datetime")


def require_cents(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInput(
            f"{name} must be a positive whole number of minor units", code="bad_amount"
        )


def require_text(name: str, value: str, *, max_len: int, allow_empty: bool = False) -> None:
    if not value.strip() and not allow_empty:
        raise InvalidInput(f"{name} must not be blank", code="blank_text")
    if len(value) > max_len:
        raise InvalidInput(f"{name} is longer than {max_len} characters", code="text_too_long")
