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
    reason: str = Field(
        description="logout, user_revoked, refresh_reuse, password_changed, password_reset,"
        " account_deleted or admin"
    )


@register
class ProfileUpdatedV1(Contract):
    """A user's public profile changed: what other services show next to their id."""

    TYPE: ClassVar = "auth.user.profile_updated"
    VERSION: ClassVar = 1

    user_id: UUID
    name: str
    city: str
    skills: list[str] = Field(description="skill categories (docs/auth.md lists them)")


@register
class ContactChangedV1(Contract):
    """How to reach a user changed (registration, verification, email or name change): the
    mail notifier's address book. The one auth event that carries an email."""

    TYPE: ClassVar = "auth.user.contact_changed"
    VERSION: ClassVar = 1

    user_id: UUID
    email: str
    name: str
    email_verified: bool


@register
class EmailVerificationRequestedV1(Contract):
    """Mail `link` to `email`: opening it proves the mailbox is the user's (single use)."""

    TYPE: ClassVar = "auth.user.email_verification_requested"
    VERSION: ClassVar = 1

    user_id: UUID
    email: str
    name: str
    link: str = Field(description="holds a single-use token: never log it")
    expires_at: AwareDatetime


@register
class PasswordResetRequestedV1(Contract):
    """Mail `link` to `email`: it sets a new password once, until `expires_at`."""

    TYPE: ClassVar = "auth.user.password_reset_requested"
    VERSION: ClassVar = 1

    user_id: UUID
    email: str
    name: str
    link: str = Field(description="holds a single-use token: never log it")
    expires_at: AwareDatetime


@register
class PasswordChangedV1(Contract):
    """A user's password changed (by them, or through a reset); other sessions ended."""

    TYPE: ClassVar = "auth.user.password_changed"
    VERSION: ClassVar = 1

    user_id: UUID
    changed_at: AwareDatetime
    by_reset: bool = Field(False, description="set through a reset link, not the old password")


@register
class UserDeletedV1(Contract):
    """An account was deleted: its email and profile are erased; show "Deleted user"."""

    TYPE: ClassVar = "auth.user.deleted"
    VERSION: ClassVar = 1

    user_id: UUID
    deleted_at: AwareDatetime


@register
class StatusChangedV1(Contract):
    """An admin suspended, unsuspended or banned a user; their sessions ended with it."""

    TYPE: ClassVar = "auth.user.status_changed"
    VERSION: ClassVar = 1

    user_id: UUID
    status: str = Field(description="active, suspended or banned")
    reason: str
