"""Refresh (rotation + reuse detection), logout, listing and revoking one's sessions,
and introspection."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn
from uuid import UUID, uuid4

from chore_auth.domain import sessions
from chore_auth.domain.audit import AuditAction
from chore_auth.domain.errors import InvalidRefreshToken, SessionNotFound
from chore_auth.domain.events import RevokeReason
from chore_auth.domain.model import RefreshToken, Session, User
from chore_auth.domain.sessions import RefreshVerdict, SessionPolicy
from chore_auth.usecases import audit
from chore_auth.usecases.accounts import live_session
from chore_auth.usecases.commands import Caller, IssuedTokens
from chore_auth.usecases.ports import (
    OnRevoked,
    RefreshTokenMint,
    Signer,
    TokenReader,
    UnitOfWork,
    UowFactory,
)
from chore_common.errors import Unauthorized

log = logging.getLogger(__name__)


def _ignore(_: UUID) -> None:
    return None


async def refresh(
    uow_factory: UowFactory,
    refresh_token: str,
    *,
    now: datetime,
    mint: RefreshTokenMint,
    signer: Signer,
    session_policy: SessionPolicy,
    on_revoked: OnRevoked = _ignore,
    client_ip: str = "unknown",
) -> IssuedTokens:
    token_hash = mint.hash_token(refresh_token)
    async with uow_factory() as uow:
        token = await uow.refresh_tokens.by_hash(token_hash)
        session = None if token is None else await uow.sessions.get(token.session_id)
        user = None if session is None else await uow.users.get(session.user_id)
        if token is None or session is None or user is None:
            raise InvalidRefreshToken("Refresh token is not valid.")
        verdict = sessions.judge_refresh(token, session, now=now, policy=session_policy)
        if verdict is RefreshVerdict.ROTATE:
            plain, new_hash = mint.new_token()
            sealed = mint.seal_successor(refresh_token, plain)
            if await uow.refresh_tokens.mark_used(token.id, now, sealed_successor=sealed):
                session = await _rotate(uow, session, new_hash, now=now, policy=session_policy)
                return issue(signer, session_policy, user, session, plain, now=now)
            # A concurrent refresh used it between our read and our write: read its row
            # again (the winner's successor is committed now) and judge it as used.
            token = await uow.refresh_tokens.by_hash(token_hash)
            if token is None:
                raise InvalidRefreshToken("Refresh token is not valid.")
            verdict = sessions.judge_refresh(token, session, now=now, policy=session_policy)
        if verdict is RefreshVerdict.DEAD:
            raise InvalidRefreshToken("Refresh token is not valid.")
        if verdict is RefreshVerdict.REUSE:
            await _revoke_reused(uow, session, now=now, on_revoked=on_revoked, ip=client_ip)
        # A retry inside the grace: the token the first refresh issued, never a new one,
        # so the session keeps a single chain of refresh tokens.
        successor = await _successor(mint, uow, token, refresh_token)
        if successor is None:
            raise InvalidRefreshToken("Refresh token is not valid.")
    return issue(signer, session_policy, user, session, successor, now=now)


async def _rotate(
    uow: UnitOfWork, session: Session, new_hash: str, *, now: datetime, policy: SessionPolicy
) -> Session:
    """The successor token stored and the session touched, committed."""
    await uow.refresh_tokens.add(
        sessions.issue_refresh(
            session, token_id=uuid4(), token_hash=new_hash, now=now, policy=policy
        )
    )
    session = sessions.touch(session, now=now, policy=policy)
    await uow.sessions.save(session)
    await uow.commit()
    return session


async def _revoke_reused(
    uow: UnitOfWork, session: Session, *, now: datetime, on_revoked: OnRevoked, ip: str
) -> NoReturn:
    await _revoke(uow, session, RevokeReason.REFRESH_REUSE, now=now, on_revoked=on_revoked)
    await _audit_revoked(uow, session, RevokeReason.REFRESH_REUSE, now=now, client_ip=ip)
    await uow.commit()
    log.warning(
        "auth.refresh_reuse",
        extra={"session_id": str(session.id), "user_id": str(session.user_id)},
    )
    raise InvalidRefreshToken("Refresh token was already used; the session has been revoked.")


async def _successor(
    mint: RefreshTokenMint, uow: UnitOfWork, token: RefreshToken, plain: str
) -> str | None:
    """The token `token` was rotated to, if its row holds one sealed under `plain`."""
    if token.sealed_successor is None:
        return None  # rotated before successors were kept: nothing to hand back
    successor = mint.open_successor(plain, token.sealed_successor)
    if successor is None:
        return None
    found = await uow.refresh_tokens.by_hash(mint.hash_token(successor))
    return successor if found is not None and found.session_id == token.session_id else None


def issue(
    signer: Signer,
    policy: SessionPolicy,
    user: User,
    session: Session,
    refresh_token: str,
    *,
    now: datetime,
) -> IssuedTokens:
    """A fresh access token for `session`, handed out with `refresh_token`."""
    claims = sessions.access_claims(user, session, jti=uuid4(), now=now, policy=policy)
    return IssuedTokens(
        access_token=signer.sign(claims),
        refresh_token=refresh_token,
        expires_in=int(policy.access_ttl.total_seconds()),
        session_id=session.id,
    )


async def logout(
    uow_factory: UowFactory,
    caller: Caller,
    *,
    now: datetime,
    on_revoked: OnRevoked = _ignore,
    client_ip: str = "unknown",
) -> None:
    async with uow_factory() as uow:
        await live_session(uow, caller, now=now)
        session = await uow.sessions.get(caller.session_id)
        assert session is not None  # live_session checked it
        await _revoke(uow, session, RevokeReason.LOGOUT, now=now, on_revoked=on_revoked)
        await _audit_revoked(uow, session, RevokeReason.LOGOUT, now=now, client_ip=client_ip)
        await uow.commit()


async def list_sessions(uow_factory: UowFactory, caller: Caller, *, now: datetime) -> list[Session]:
    async with uow_factory() as uow:
        await live_session(uow, caller, now=now)
        return await uow.sessions.of_user(caller.user_id, active_at=now)


async def revoke_session(
    uow_factory: UowFactory,
    caller: Caller,
    session_id: UUID,
    *,
    now: datetime,
    on_revoked: OnRevoked = _ignore,
    client_ip: str = "unknown",
) -> None:
    """Revoke one of the caller's own sessions; anyone else's looks like it does not exist."""
    async with uow_factory() as uow:
        await live_session(uow, caller, now=now)
        session = await uow.sessions.get(session_id)
        if session is None or session.user_id != caller.user_id:
            raise SessionNotFound("No such session.")
        reason = RevokeReason.USER_REVOKED
        await _revoke(uow, session, reason, now=now, on_revoked=on_revoked)
        await _audit_revoked(uow, session, reason, now=now, client_ip=client_ip)
        await uow.commit()


async def _audit_revoked(
    uow: UnitOfWork, session: Session, reason: RevokeReason, *, now: datetime, client_ip: str
) -> None:
    await audit.record(
        uow,
        AuditAction.SESSION_REVOKED,
        now=now,
        client_ip=client_ip,
        actor_id=session.user_id,
        target_id=session.user_id,
        detail=f"session {session.id}: {reason.value}",
    )


async def end_sessions(
    uow: UnitOfWork,
    user_id: UUID,
    reason: RevokeReason,
    *,
    now: datetime,
    on_revoked: OnRevoked,
    keep: UUID | None = None,
) -> int:
    """Revoke every live session of `user_id` but `keep`, in the caller's transaction: each
    one announced (`auth.session.revoked`), so every replica refuses it and sockets close."""
    ended = 0
    for session in await uow.sessions.of_user(user_id, active_at=now):
        if session.id != keep:
            await _revoke(uow, session, reason, now=now, on_revoked=on_revoked)
            ended += 1
    return ended


async def _revoke(
    uow: UnitOfWork,
    session: Session,
    reason: RevokeReason,
    *,
    now: datetime,
    on_revoked: OnRevoked,
) -> None:
    revoked, event = sessions.revoke(session, reason, now=now)
    if event is None:
        return
    await uow.sessions.save(revoked)
    uow.record(event)

    async def tell_this_replica() -> None:
        on_revoked(session.id)
        log.info(
            "auth.session_revoked",
            extra={"session_id": str(session.id), "reason": reason.value},
        )

    uow.after_commit(tell_this_replica)


@dataclass(frozen=True)
class Introspection:
    active: bool
    sub: str | None = None
    sid: str | None = None
    role: str | None = None
    exp: int | None = None


async def introspect(
    uow_factory: UowFactory, tokens: TokenReader, token: str, *, now: datetime
) -> Introspection:
    """RFC 7662 style: active only if the signature, the claims and the session row agree."""
    try:
        claims = await tokens.verify(token)
        session_id = UUID(claims.sid)
    except (Unauthorized, ValueError):
        return Introspection(active=False)
    async with uow_factory() as uow:
        session = await uow.sessions.get(session_id)
    if session is None or str(session.user_id) != claims.sub or not session.active(now):
        return Introspection(active=False)
    return Introspection(
        active=True, sub=claims.sub, sid=claims.sid, role=claims.role, exp=claims.exp
    )
