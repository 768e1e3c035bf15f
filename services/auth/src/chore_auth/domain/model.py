"""Accounts and sessions as plain data: what a user, a session and a refresh token are."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


class Role(enum.StrEnum):
    CLIENT = "client"
    TASKER = "tasker"
    ADMIN = "admin"


# Roles a person may pick when signing up; admins come only from the operator CLI.
SELF_SERVICE_ROLES = frozenset({Role.CLIENT, Role.TASKER})


class AccountStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    BANNED = "banned"


@dataclass(frozen=True)
class User:
    id: UUID
    email: str
    name: str
    role: Role
    password_hash: str
    created_at: datetime
    updated_at: datetime
    bio: str = ""
    skills: tuple[str, ...] = ()
    avatar_url: str | None = None
    city: str = ""
    email_verified_at: datetime | None = None
    status: AccountStatus = AccountStatus.ACTIVE
    status_reason: str | None = None
    deleted_at: datetime | None = None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


@dataclass(frozen=True)
class Session:
    """One login: the unit of revocation. Every access token names it in `sid`."""

    id: UUID
    user_id: UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str = ""
    revoked_at: datetime | None = None
    revoke_reason: str | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class RefreshToken:
    """A stored refresh token: only the hash of the opaque value the client holds."""

    id: UUID
    session_id: UUID
    token_hash: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    # The token this one was rotated to, sealed so that only this token's holder can read it
    # (adapters.refresh_tokens): what a retry inside the reuse grace gets back.
    sealed_successor: bytes | None = None


@dataclass(frozen=True)
class AccessClaims:
    """What an access token says; signing is an adapter's job."""

    sub: UUID
    sid: UUID
    role: Role
    iat: datetime
    exp: datetime
    jti: UUID
    ev: bool = False  # email verified (or the requirement is off): may post tasks and offers
