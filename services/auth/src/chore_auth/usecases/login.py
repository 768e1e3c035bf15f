"""Log in: count the attempt, check the password off the loop, open a session, issue tokens.

Unknown emails take the same path as wrong passwords (the attempt counted against the
account key and the IP, a dummy hash check) and end in the same error, so neither the
answer, its timing nor the throttle tells whether an account exists.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from chore_auth.domain import accounts, sessions, throttle
from chore_auth.domain.errors import InvalidCredentials
from chore_auth.usecases.deps import Deps, IssuedTokens
from chore_common.errors import RateLimited

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Login:
    email: str
    password: str
    client_ip: str
    user_agent: str = ""


def throttle_keys(email: str, client_ip: str) -> tuple[str, str]:
    # The account key is a hash: failed logins for addresses nobody registered are not
    # kept in the clear.
    digest = hashlib.sha256(accounts.normalize_email(email).encode()).hexdigest()[:40]
    return f"account:{digest}", f"ip:{client_ip[:64]}"


async def login(deps: Deps, cmd: Login, *, now: datetime) -> IssuedTokens:
    account_key, ip_key = throttle_keys(cmd.email, cmd.client_ip)
    email = accounts.normalize_email(cmd.email)
    async with deps.uow() as uow:
        for key, policy in ((ip_key, deps.ip_throttle), (account_key, deps.account_throttle)):
            counted = await uow.throttle.count_attempt(key, now=now, window=policy.window)
            try:
                throttle.admit(counted, policy, now=now)
            except RateLimited:
                # Leaving the unit of work uncommitted rolls the count back: refused
                # attempts do not extend the lock.
                log.info("auth.login_throttled", extra={"by": key.split(":", 1)[0]})
                raise
        user = await uow.users.by_email(email)
        await uow.commit()
    # Always one argon2id check: for an unknown email, against a dummy hash (None).
    matches = await deps.hasher.verify(
        user.password_hash if user is not None else None, cmd.password
    )
    if user is None or not matches:
        log.info("auth.login_failed")  # no email: it may be a typo of a password
        raise InvalidCredentials()  # the attempt is counted already

    new_hash = None
    if deps.hasher.needs_rehash(user.password_hash):
        new_hash = await deps.hasher.hash(cmd.password)
    session = sessions.open_session(
        user, session_id=uuid4(), now=now, policy=deps.sessions, user_agent=cmd.user_agent
    )
    refresh_token, refresh_hash = deps.new_refresh_token()
    async with deps.uow() as uow:
        await uow.throttle.clear(account_key)
        await uow.throttle.refund(ip_key)
        if new_hash is not None:
            await uow.users.set_password_hash(user.id, new_hash, now)
        await uow.sessions.add(session)
        await uow.refresh_tokens.add(
            sessions.issue_refresh(
                session, token_id=uuid4(), token_hash=refresh_hash, now=now, policy=deps.sessions
            )
        )
        await uow.commit()
    claims = sessions.access_claims(user, session, jti=uuid4(), now=now, policy=deps.sessions)
    return IssuedTokens(
        access_token=deps.signer.sign(claims),
        refresh_token=refresh_token,
        expires_in=int(deps.sessions.access_ttl.total_seconds()),
        session_id=session.id,
    )
