"""Events the auth service publishes (stream AUTH, subjects `auth.>`)."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from chore_common.contracts.registry import Contract, register


@register
class UserRegisteredV1(Contract):
    """A user account was created. Carries no email: consumers need the id, role and name."""

    TYPE: ClassVar = "auth.user.registered"
    VERSION: ClassVar = 1

    user_id: UUID
    role: str = Field(description="client, tasker or admin")
    name: str
    registered_at: AwareDatetime


@register
class SessionRevokedV1(Contract):
    """A session ended early; every replica refuses its tokens within 1 s of this event."""

    TYPE: ClassVar = "auth.session.revoked"
    VERSION: ClassVar = 1

    user_id: UUID
    session_id: UUID
    revoked_at: AwareDatetime
    reason: str = Field(description="logout, user_revoked, refresh_reuse or admin")


@register
class UserContactChangedV1(Contract):
    """How to reach a user changed (registration, verification, email or name change): the
    mail notifier's address book. The only auth event that carries an email."""

    TYPE: ClassVar = "auth.user.contact_changed"
    VERSION: ClassVar = 1

    user_id: UUID
    email: str
    name: str
    email_verified: bool


@register
class EmailVerificationRequestedV1(Contract):
    """Mail `link` to `email` so the user proves it is theirs (sign-up, email change)."""

    TYPE: ClassVar = "auth.user.email_verification_requested"
    VERSION: ClassVar = 1

    user_id: UUID
    email: str
    name: str
    link: str = Field(description="holds a single-use token: never log it")
    expires_at: AwareDatetime


@register
class PasswordResetRequestedV1(Contract):
    """Mail `link` to `email`: following it lets the user set a new password once."""

    TYPE: ClassVar = "auth.user.password_reset_requested"
    VERSION: ClassVar = 1

    user_id: UUID
    email: str
    name: str
    link: str = Field(description="holds a single-use token: never log it")
    expires_at: AwareDatetime


@register
class UserDeletedV1(Contract):
    """The account is gone: every service drops the user's private data."""

    TYPE: ClassVar = "auth.user.deleted"
    VERSION: ClassVar = 1

    user_id: UUID
    deleted_at: AwareDatetime
