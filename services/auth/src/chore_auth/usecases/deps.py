"""Everything a use case may call, built once by create_app (or by a test with fakes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from chore_auth.domain.sessions import SessionPolicy
from chore_auth.domain.throttle import LoginThrottle
from chore_auth.usecases.ports import (
    Hasher,
    OnRevoked,
    RefreshTokenHasher,
    RefreshTokenMaker,
    Signer,
    SuccessorOpener,
    SuccessorSealer,
    TokenReader,
    UowFactory,
)


def _ignore(_: UUID) -> None:
    return None


@dataclass(frozen=True)
class Deps:
    uow: UowFactory
    hasher: Hasher
    signer: Signer
    tokens: TokenReader
    new_refresh_token: RefreshTokenMaker
    hash_refresh_token: RefreshTokenHasher
    seal_successor: SuccessorSealer
    open_successor: SuccessorOpener
    sessions: SessionPolicy
    login_throttle: LoginThrottle
    on_revoked: OnRevoked = field(default=_ignore)


@dataclass(frozen=True)
class Caller:
    """Who is asking, as the bearer token said (already verified by the middleware)."""

    user_id: UUID
    session_id: UUID


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: UUID
