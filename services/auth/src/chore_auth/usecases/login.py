"""Log in: count the attempt, check the password off the loop, open a session, issue tokens.

Unknown emails take the same path as wrong passwords (the attempt counted against the
account and the client's address, a dummy hash check) and end in the same error, so
neither the answer, its timing nor the throttle tells whether an account exists.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from chore_auth.domain import accounts, moderation, sessions, throttle
from chore_auth.domain.audit import AuditAction
from chore_auth.domain.errors import InvalidCredentials
from chore_auth.domain.model import User
from chore_auth.domain.sessions import SessionPolicy
from chore_auth.domain.throttle import LoginThrottle
from chore_auth.usecases import audit
from chore_auth.usecases.commands import IssuedTokens
from chore_auth.usecases.ports import Hasher, RefreshTokenMint, Signer, UnitOfWork, UowFactory
from chore_auth.usecases.sessions import issue
from chore_common.errors import RateLimited

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Login:
    email: str
    password: str
    client_ip: str  # as the edge decided it (chore_common.http.client_address)
    user_agent: str = ""


@dataclass(frozen=True)
class ThrottleKeys:
    address: str
    account_at_address: str
    account: str


def _digest(*parts: str) -> str:
    joined = "\n".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.sha256(joined).hexdigest()[:40]


def throttle_keys(email: str, client_ip: str) -> ThrottleKeys:
    # Account keys are hashes: failed logins for addresses nobody registered are not kept
    # in the clear.
    normalized, address = accounts.normalize_email(email), client_ip[:64]
    return ThrottleKeys(
        address=f"ip:{address}",
        account_at_address=f"account_ip:{_digest(normalized, address)}",
        account=f"account:{_digest(normalized)}",
    )


async def forget_ended_windows(
    uow_factory: UowFactory, login_throttle: LoginThrottle, *, now: datetime
) -> int:
    """Drop counters whose window has ended: a new attempt would start them over anyway,
    and without this every address and email an attacker tries stays a row for good."""
    longest = max(login_throttle.per_address.window, login_throttle.per_account.window)
    async with uow_factory() as uow:
        dropped = await uow.throttle.forget_started_before(now - longest)
        await uow.commit()
    return dropped


async def login(
    uow_factory: UowFactory,
    cmd: Login,
    *,
    now: datetime,
    hasher: Hasher,
    signer: Signer,
    mint: RefreshTokenMint,
    session_policy: SessionPolicy,
    login_throttle: LoginThrottle,
) -> IssuedTokens:
    keys = throttle_keys(cmd.email, cmd.client_ip)
    async with uow_factory() as uow:
        counts = await _count_attempt(uow, keys, login_throttle, now=now)
        user = await uow.users.by_email(accounts.normalize_email(cmd.email))
        await uow.commit()
    # Always one argon2id check: for an unknown email, against a dummy hash (None).
    matches = await hasher.verify(user.password_hash if user is not None else None, cmd.password)
    if user is None or not matches:
        log.info("auth.login_failed")  # no email: it may be a typo of a password
        await _audit(uow_factory, AuditAction.LOGIN_FAILED, cmd, user, now=now)
        raise InvalidCredentials()  # the attempt is counted already
    # Told only to whoever knows the password: a stopped account says so (403).
    moderation.check_may_log_in(user)

    new_hash = None
    if hasher.needs_rehash(user.password_hash):
        new_hash = await hasher.hash(cmd.password)
    session = sessions.open_session(
        user, session_id=uuid4(), now=now, policy=session_policy, user_agent=cmd.user_agent
    )
    refresh_token, refresh_hash = mint.new_token()
    async with uow_factory() as uow:
        await _refund_owner(uow, keys, counts)
        if new_hash is not None:
            await uow.users.set_password_hash(user.id, new_hash, now)
        await uow.sessions.add(session)
        await uow.refresh_tokens.add(
            sessions.issue_refresh(
                session, token_id=uuid4(), token_hash=refresh_hash, now=now, policy=session_policy
            )
        )
        await audit.record(
            uow,
            AuditAction.LOGIN_OK,
            now=now,
            client_ip=cmd.client_ip,
            actor_id=user.id,
            target_id=user.id,
            detail=f"session {session.id}",
        )
        await uow.commit()
    return issue(signer, session_policy, user, session, refresh_token, now=now)


async def _audit(
    uow_factory: UowFactory, action: AuditAction, cmd: Login, user: User | None, *, now: datetime
) -> None:
    # The typed email is not kept (it may be a mistyped password): the account, if any.
    async with uow_factory() as uow:
        target = None if user is None else user.id
        await audit.record(uow, action, now=now, client_ip=cmd.client_ip, target_id=target)
        await uow.commit()


async def _count_attempt(
    uow: UnitOfWork, keys: ThrottleKeys, policy: LoginThrottle, *, now: datetime
) -> throttle.LoginCounts:
    """Count this attempt against the address and the account; RateLimited when over."""
    counts = throttle.LoginCounts(
        address=await uow.throttle.count_attempt(
            keys.address, now=now, window=policy.per_address.window
        ),
        account_at_address=await uow.throttle.count_attempt(
            keys.account_at_address, now=now, window=policy.per_account.window
        ),
        account=await uow.throttle.count_attempt(
            keys.account, now=now, window=policy.per_account.window
        ),
    )
    try:
        throttle.admit_login(counts, policy, now=now)
    except RateLimited:
        # Leaving the unit of work uncommitted rolls the counts back: refused attempts
        # do not extend the lock.
        log.info(
            "auth.login_throttled",
            extra={
                "address_failures": counts.address.count - 1,
                "account_failures": counts.account.count - 1,
            },
        )
        raise
    return counts


async def _refund_owner(uow: UnitOfWork, keys: ThrottleKeys, counts: throttle.LoginCounts) -> None:
    # The owner is in: this address's failures on the account were theirs (typos), so
    # they leave the account's count too; other addresses' failures stay counted.
    # Rows in the order they were counted in, so two logins never wait on each other.
    await uow.throttle.refund(keys.address)
    await uow.throttle.clear(keys.account_at_address)
    await uow.throttle.refund(keys.account, by=counts.account_at_address.count)
