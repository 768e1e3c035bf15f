"""Request and response bodies of /auth: what clients send and see, nothing more."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from chore_auth.domain.accounts import PASSWORD_MAX, PASSWORD_MIN
from chore_auth.domain.model import Session
from chore_common.http.fields import Name, Text
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
