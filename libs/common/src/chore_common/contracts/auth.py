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
