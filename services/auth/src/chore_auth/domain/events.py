"""What happened, in domain words; adapters/contracts.py turns these into published contracts."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from chore_auth.domain.model import AccountStatus, Role


class RevokeReason(enum.StrEnum):
    LOGOUT = "logout"
    USER_REVOKED = "user_revoked"
    REFRESH_REUSE = "refresh_reuse"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name
    PASSWORD_RESET = "password_reset"  # noqa: S105 - an event name
    ACCOUNT_DELETED = "account_deleted"
    ADMIN = "admin"


@dataclass(frozen=True)
class UserRegistered:
    user_id: UUID
    email: str
    name: str
    role: Role
    occurred_at: datetime


@dataclass(frozen=True)
class SessionRevoked:
    session_id: UUID
    user_id: UUID
    reason: RevokeReason
    occurred_at: datetime


@dataclass(frozen=True)
class ProfileUpdated:
    user_id: UUID
    name: str
    city: str
    skills: tuple[str, ...]
    occurred_at: datetime


@dataclass(frozen=True)
class ContactChanged:
    user_id: UUID
    email: str
    name: str
    email_verified: bool
    occurred_at: datetime


@dataclass(frozen=True)
class LinkMailed:
    """A single-use link to mail: a verification or a password reset (`purpose`)."""

    purpose: str  # account_tokens.Purpose value
    user_id: UUID
    email: str
    name: str
    link: str
    expires_at: datetime
    occurred_at: datetime


@dataclass(frozen=True)
class PasswordChanged:
    user_id: UUID
    by_reset: bool
    occurred_at: datetime


@dataclass(frozen=True)
class UserDeleted:
    user_id: UUID
    occurred_at: datetime


@dataclass(frozen=True)
class StatusChanged:
    user_id: UUID
    status: AccountStatus
    reason: str
    occurred_at: datetime


DomainEvent = (
    UserRegistered
    | SessionRevoked
    | ProfileUpdated
    | ContactChanged
    | LinkMailed
    | PasswordChanged
    | UserDeleted
    | StatusChanged
)
