"""Sessions and refresh-token rotation with reuse detection.

A refresh token is single-use. Presenting one that was already used means two parties hold
it, so the whole session is revoked (OAuth 2.0 Security BCP 4.14). A client that retries a
refresh it never saw the answer to would trip that too, so a used token presented again
within a short grace is treated as that retry: it gets the refresh token the first refresh
issued (and a fresh access token), never a second live refresh token, so a session is always
one chain and reuse detection keeps working (docs/auth.md compares GoTrue).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from chore_auth.domain.events import RevokeReason, SessionRevoked
from chore_auth.domain.model import AccessClaims, RefreshToken, Session, User


@dataclass(frozen=True)
class SessionPolicy:
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=30)
    reuse_grace: timedelta = timedelta(seconds=10)
    # Off (make run's demo): every token says `ev: true`, so nobody is asked to verify.
    require_verified_email: bool = True


class RefreshVerdict(enum.Enum):
    ROTATE = "rotate"  # unused and valid: mark used, issue the next one
    GRACE_RETRY = "grace_retry"  # used moments ago: a client retry, hand its successor back
    REUSE = "reuse"  # used before the grace: stolen or replayed, revoke the session
    DEAD = "dead"  # expired token, or its session is over: refuse, nothing to revoke


def open_session(
    user: User, *, session_id: UUID, now: datetime, policy: SessionPolicy, user_agent: str = ""
) -> Session:
    return Session(
        id=session_id,
        user_id=user.id,
        created_at=now,
        last_used_at=now,
        expires_at=now + policy.refresh_ttl,
        user_agent=user_agent[:200],
    )


def issue_refresh(
    session: Session, *, token_id: UUID, token_hash: str, now: datetime, policy: SessionPolicy
) -> RefreshToken:
    return RefreshToken(
        id=token_id,
        session_id=session.id,
        token_hash=token_hash,
        issued_at=now,
        expires_at=now + policy.refresh_ttl,
    )


def access_claims(
    user: User, session: Session, *, jti: UUID, now: datetime, policy: SessionPolicy
) -> AccessClaims:
    return AccessClaims(
        sub=user.id,
        sid=session.id,
        role=user.role,
        iat=now,
        exp=now + policy.access_ttl,
        jti=jti,
        ev=user.email_verified or not policy.require_verified_email,
    )


def judge_refresh(
    token: RefreshToken, session: Session, *, now: datetime, policy: SessionPolicy
) -> RefreshVerdict:
    if not session.active(now) or now >= token.expires_at:
        return RefreshVerdict.DEAD
    if token.used_at is None:
        return RefreshVerdict.ROTATE
    if now - token.used_at <= policy.reuse_grace:
        return RefreshVerdict.GRACE_RETRY
    return RefreshVerdict.REUSE


def touch(session: Session, *, now: datetime, policy: SessionPolicy) -> Session:
    """A refresh keeps the session alive as long as its newest refresh token."""
    return replace(session, last_used_at=now, expires_at=now + policy.refresh_ttl)


def revoke(
    session: Session, reason: RevokeReason, *, now: datetime
) -> tuple[Session, SessionRevoked | None]:
    """Revoke once; revoking a revoked session changes nothing and announces nothing."""
    if session.revoked_at is not None:
        return session, None
    revoked = replace(session, revoked_at=now, revoke_reason=reason.value)
    return revoked, SessionRevoked(session.id, session.user_id, reason, now)
