"""What happened, in domain words; adapters/contracts.py turns these into published contracts."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from chore_auth.domain.model import Role


class RevokeReason(enum.StrEnum):
    LOGOUT = "logout"
    USER_REVOKED = "user_revoked"
    REFRESH_REUSE = "refresh_reuse"


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


DomainEvent = UserRegistered | SessionRevoked
