"""Refresh (rotation + reuse detection), logout, listing and revoking one's sessions,
and introspection."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from chore_auth.domain import sessions
from chore_auth.domain.errors import InvalidRefreshToken, SessionNotFound
from chore_auth.domain.events import RevokeReason
from chore_auth.domain.model import RefreshToken, Session, User
from chore_auth.domain.sessions import RefreshVerdict
from chore_auth.usecases.accounts import live_session
from chore_auth.usecases.deps import Caller, Deps, IssuedTokens
from chore_auth.usecases.ports import UnitOfWork
from chore_common.errors import Unauthorized

log = logging.getLogger(__name__)


async def refresh(deps: Deps, refresh_token: str, *, now: datetime) -> IssuedTokens:
    token_hash = deps.hash_refresh_token(refresh_token)
    async with deps.uow() as uow:
        token = await uow.refresh_tokens.by_hash(token_hash)
        session = None if token is None else await uow.sessions.get(token.session_id)
        user = None if session is None else await uow.users.get(session.user_id)
        if token is None or session is None or user is None:
            raise InvalidRefreshToken("Refresh token is not valid.")
        verdict = sessions.judge_refresh(token, session, now=now, policy=deps.sessions)
        if verdict is RefreshVerdict.ROTATE:
            plain, new_hash = deps.new_refresh_token()
            sealed = deps.seal_successor(refresh_token, plain)
            if await uow.refresh_tokens.mark_used(token.id, now, sealed_successor=sealed):
                await uow.refresh_tokens.add(
                    sessions.issue_refresh(
                        session,
                        token_id=uuid4(),
                        token_hash=new_hash,
                        now=now,
                        policy=deps.sessions,
                    )
                )
                session = sessions.touch(session, now=now, policy=deps.sessions)
                await uow.sessions.save(session)
                await uow.commit()
                return _issue(deps, user, session, plain, now=now)
            # A concurrent refresh used it between our read and our write: read its row
            # again (the winner's successor is committed now) and judge it as used.
            token = await uow.refresh_tokens.by_hash(token_hash)
            if token is None:
                raise InvalidRefreshToken("Refresh token is not valid.")
            verdict = sessions.judge_refresh(token, session, now=now, policy=deps.sessions)
        if verdict is RefreshVerdict.DEAD:
            raise InvalidRefreshToken("Refresh token is not valid.")
        if verdict is RefreshVerdict.REUSE:
            await _revoke(deps, uow, session, RevokeReason.REFRESH_REUSE, now=now)
            await uow.commit()
            log.warning(
                "auth.refresh_reuse",
                extra={"session_id": str(session.id), "user_id": str(session.user_id)},
            )
            raise InvalidRefreshToken(
                "Refresh token was already used; the session has been revoked."
            )
        # A retry inside the grace: the token the first refresh issued, never a new one,
        # so the session keeps a single chain of refresh tokens.
        successor = await _successor(deps, uow, token, refresh_token)
        if successor is None:
            raise InvalidRefreshToken("Refresh token is not valid.")
    return _issue(deps, user, session, successor, now=now)


async def _successor(deps: Deps, uow: UnitOfWork, token: RefreshToken, plain: str) -> str | None:
    """The token `token` was rotated to, if its row holds one sealed under `plain`."""
    if token.sealed_successor is None:
        return None  # rotated before successors were kept: nothing to hand back
    successor = deps.open_successor(plain, token.sealed_successor)
    if successor is None:
        return None
    found = await uow.refresh_tokens.by_hash(deps.hash_refresh_token(successor))
    return successor if found is not None and found.session_id == token.session_id else None


def _issue(
    deps: Deps, user: User, session: Session, refresh_token: str, *, now: datetime
) -> IssuedTokens:
    claims = sessions.access_claims(user, session, jti=uuid4(), now=now, policy=deps.sessions)
    return IssuedTokens(
        access_token=deps.signer.sign(claims),
        refresh_token=refresh_token,
        expires_in=int(deps.sessions.access_ttl.total_seconds()),
        session_id=session.id,
    )


async def logout(deps: Deps, caller: Caller, *, now: datetime) -> None:
    async with deps.uow() as uow:
        await live_session(uow, caller, now=now)
        session = await uow.sessions.get(caller.session_id)
        assert session is not None  # live_session checked it
        await _revoke(deps, uow, session, RevokeReason.LOGOUT, now=now)
        await uow.commit()


async def list_sessions(deps: Deps, caller: Caller, *, now: datetime) -> list[Session]:
    async with deps.uow() as uow:
        await live_session(uow, caller, now=now)
        return await uow.sessions.of_user(caller.user_id, active_at=now)


async def revoke_session(deps: Deps, caller: Caller, session_id: UUID, *, now: datetime) -> None:
    """Revoke one of the caller's own sessions; anyone else's looks like it does not exist."""
    async with deps.uow() as uow:
        await live_session(uow, caller, now=now)
        session = await uow.sessions.get(session_id)
        if session is None or session.user_id != caller.user_id:
            raise SessionNotFound("No such session.")
        await _revoke(deps, uow, session, RevokeReason.USER_REVOKED, now=now)
        await uow.commit()


async def _revoke(
    deps: Deps, uow: UnitOfWork, session: Session, reason: RevokeReason, *, now: datetime
) -> None:
    revoked, event = sessions.revoke(session, reason, now=now)
    if event is None:
        return
    await uow.sessions.save(revoked)
    uow.record(event)

    async def tell_this_replica() -> None:
        deps.on_revoked(session.id)
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


async def introspect(deps: Deps, token: str, *, now: datetime) -> Introspection:
    """RFC 7662 style: active only if the signature, the claims and the session row agree."""
    try:
        claims = await deps.tokens.verify(token)
        session_id = UUID(claims.sid)
    except (Unauthorized, ValueError):
        return Introspection(active=False)
    async with deps.uow() as uow:
        session = await uow.sessions.get(session_id)
    if session is None or str(session.user_id) != claims.sub or not session.active(now):
        return Introspection(active=False)
    return Introspection(
        active=True, sub=claims.sub, sid=claims.sid, role=claims.role, exp=claims.exp
    )
