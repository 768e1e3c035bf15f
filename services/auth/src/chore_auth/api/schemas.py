"""Request and response bodies of /auth: what clients send and see, nothing more."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from chore_auth.domain.accounts import PASSWORD_MAX, PASSWORD_MIN
from chore_auth.domain.audit import AuditAction
from chore_auth.domain.model import Session, User
from chore_auth.domain.profiles import AVATAR_URL_MAX, BIO_MAX, CITY_MAX, SKILLS, SKILLS_MAX
from chore_common.http.fields import Instant, Name, Text
from chore_common.http.pagination import PageQuery
from chore_common.http.validation import OutModel, StrictModel

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class RegisterIn(StrictModel):
    email: Text = Field(max_length=254, pattern=EMAIL_PATTERN)
    password: Text = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    name: Name = Field(min_length=1, max_length=200)
    role: Literal["client", "tasker"]


class LoginIn(StrictModel):
    email: Text = Field(min_length=1, max_length=254)
    # No minimum here: a short wrong password is a wrong password (401), not a 422 that
    # would tell the password rules apart from the account's.
    password: Text = Field(min_length=1, max_length=1024)


class RefreshIn(StrictModel):
    refresh_token: Text = Field(min_length=1, max_length=512)


class IntrospectIn(StrictModel):
    token: Text = Field(min_length=1, max_length=4096)


class UserOut(OutModel):
    id: UUID
    email: str
    name: str
    role: str
    created_at: datetime


class TokensOut(OutModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int = Field(description="seconds until the access token expires")


class SessionOut(BaseModel):
    id: UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str
    current: bool = Field(description="the session of the token that asked")

    @classmethod
    def of(cls, session: Session, current: UUID) -> SessionOut:
        return cls(
            id=session.id,
            created_at=session.created_at,
            last_used_at=session.last_used_at,
            expires_at=session.expires_at,
            user_agent=session.user_agent,
            current=session.id == current,
        )


class SessionsOut(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None = None


class IntrospectOut(OutModel):
    active: bool
    sub: str | None = None
    sid: str | None = None
    role: str | None = None
    exp: int | None = None


class Jwk(BaseModel):
    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str


class JwksOut(BaseModel):
    keys: list[Jwk]


NewPassword = Annotated[Text, Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]
# A password being checked, not set: any length, like login's (a 403 if wrong).
GivenPassword = Annotated[Text, Field(min_length=1, max_length=1024)]
OneTimeToken = Annotated[Text, Field(min_length=1, max_length=512)]


class ProfilePatchIn(StrictModel):
    """Fields to change; those left out stay. `avatar_url: ""` removes the avatar."""

    name: Name | None = Field(None, max_length=200)
    bio: Text | None = Field(None, max_length=BIO_MAX)
    skills: list[Text] | None = Field(
        None, max_length=SKILLS_MAX, description=f"from: {', '.join(SKILLS)}"
    )
    avatar_url: Text | None = Field(None, max_length=AVATAR_URL_MAX, description="https only")
    city: Text | None = Field(None, max_length=CITY_MAX)


class PublicProfileOut(BaseModel):
    id: UUID
    name: str
    bio: str
    skills: list[str]
    avatar_url: str | None
    city: str
    member_since: datetime

    @classmethod
    def of(cls, user: User) -> PublicProfileOut:
        return cls(
            id=user.id,
            name=user.name,
            bio=user.bio,
            skills=list(user.skills),
            avatar_url=user.avatar_url,
            city=user.city,
            member_since=user.created_at,
        )


class ProfileOut(PublicProfileOut):
    email: str
    email_verified: bool
    role: str
    status: str

    @classmethod
    def of(cls, user: User) -> ProfileOut:
        return cls(
            **PublicProfileOut.of(user).model_dump(),
            email=user.email,
            email_verified=user.email_verified,
            role=user.role.value,
            status=user.status.value,
        )


class PasswordChangeIn(StrictModel):
    current_password: GivenPassword
    new_password: NewPassword


class ForgotIn(StrictModel):
    email: Text = Field(min_length=1, max_length=254)


class ResetIn(StrictModel):
    token: OneTimeToken
    password: NewPassword


class VerifyIn(StrictModel):
    token: OneTimeToken


class EmailChangeIn(StrictModel):
    email: Text = Field(max_length=254, pattern=EMAIL_PATTERN)
    password: GivenPassword


class PasswordConfirmIn(StrictModel):
    password: GivenPassword


class AcceptedOut(BaseModel):
    status: Literal["accepted"] = "accepted"
    detail: str


class StatusIn(StrictModel):
    reason: Name = Field(max_length=500)


class AccountStatusOut(BaseModel):
    id: UUID
    status: str
    reason: str | None


class AuditQuery(PageQuery):
    action: AuditAction | None = None
    actor_id: UUID | None = None
    target_id: UUID | None = None
    since: Instant | None = None
    until: Instant | None = None


class AuditEntryOut(OutModel):
    id: UUID
    at: datetime
    action: str
    actor_id: UUID | None
    target_id: UUID | None
    client_ip: str
    detail: str


class AuditPageOut(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None = None


class ExportSessionOut(OutModel):
    id: UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str
    revoked_at: datetime | None
    revoke_reason: str | None


class ExportOut(BaseModel):
    service: Literal["auth"] = "auth"
    exported_at: datetime
    account: ProfileOut
    created_at: datetime
    email_verified_at: datetime | None
    sessions: list[ExportSessionOut]
    audit: list[AuditEntryOut]
