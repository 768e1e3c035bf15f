"""Changing a password (knowing it), and resetting a forgotten one through a mailed link.

A change ends every other session; a reset ends them all. Each revocation is an
`auth.session.revoked` event, so every replica refuses the tokens and closes the sockets
within a second, as on logout. Forgot answers alike for every address, at a fixed time
after the request, and does its work beside the answer (api.passwords).
"""

from __future__ import annotations

from datetime import datetime

from chore_auth.domain import accounts
from chore_auth.domain.account_tokens import Purpose
from chore_auth.domain.audit import AuditAction
from chore_auth.domain.errors import WrongPassword
from chore_auth.domain.events import PasswordChanged, RevokeReason
from chore_auth.domain.model import AccountStatus, User
from chore_auth.usecases import audit
from chore_auth.usecases.accounts import me
from chore_auth.usecases.commands import Caller, Links
from chore_auth.usecases.links import mail_link, redeem
from chore_auth.usecases.ports import Hasher, OnRevoked, RefreshTokenMint, UnitOfWork, UowFactory
from chore_auth.usecases.sessions import end_sessions


async def change_password(
    uow_factory: UowFactory,
    hasher: Hasher,
    caller: Caller,
    *,
    current: str,
    new: str,
    now: datetime,
    client_ip: str,
    on_revoked: OnRevoked,
) -> int:
    """The new password set; every session but the caller's ended (how many: returned)."""
    accounts.check_password_rules(new)
    user = await me(uow_factory, caller, now=now)
    if not await hasher.verify(user.password_hash, current):
        raise WrongPassword("The current password is incorrect.")
    new_hash = await hasher.hash(new)
    async with uow_factory() as uow:
        await uow.users.set_password_hash(user.id, new_hash, now)
        ended = await end_sessions(
            uow,
            user.id,
            RevokeReason.PASSWORD_CHANGED,
            now=now,
            on_revoked=on_revoked,
            keep=caller.session_id,
        )
        uow.record(PasswordChanged(user.id, by_reset=False, occurred_at=now))
        await audit.record(
            uow,
            AuditAction.PASSWORD_CHANGED,
            now=now,
            client_ip=client_ip,
            actor_id=user.id,
            target_id=user.id,
            detail=f"sessions ended: {ended}",
        )
        await uow.commit()
    return ended


async def forgot_password(
    uow_factory: UowFactory,
    email: str,
    *,
    mint: RefreshTokenMint,
    links: Links,
    now: datetime,
    client_ip: str,
) -> None:
    """Mail a reset link if `email` is an active account's and it was not sent too many
    lately (`links.resets`); silently nothing otherwise."""
    async with uow_factory() as uow:
        user = await uow.users.by_email(accounts.normalize_email(email))
        detail = ""
        if user is None or user.status is not AccountStatus.ACTIVE:
            user = None
        elif await _over_limit(uow, user, links, now=now):
            detail = "throttled: no mail"
        else:
            await mail_link(uow, user, Purpose.PASSWORD_RESET, mint=mint, links=links, now=now)
        await audit.record(
            uow,
            AuditAction.PASSWORD_RESET_REQUESTED,
            now=now,
            client_ip=client_ip,
            target_id=None if user is None else user.id,
            detail=detail,
        )
        await uow.commit()


async def _over_limit(uow: UnitOfWork, user: User, links: Links, *, now: datetime) -> bool:
    # The login throttle's table, under a key of its own; its windows are forgotten alike.
    policy = links.resets
    sent = await uow.throttle.count_attempt(f"reset:{user.id}", now=now, window=policy.window)
    return sent.count > policy.max_failures


async def reset_password(
    uow_factory: UowFactory,
    hasher: Hasher,
    *,
    token: str,
    password: str,
    mint: RefreshTokenMint,
    now: datetime,
    client_ip: str,
    on_revoked: OnRevoked,
) -> None:
    """The link's account gets `password`, and every one of its sessions ends."""
    accounts.check_password_rules(password)
    async with uow_factory() as uow:  # refuse a bad token before paying for a hash
        await redeem(uow, mint, token, Purpose.PASSWORD_RESET, now=now)
    new_hash = await hasher.hash(password)
    async with uow_factory() as uow:
        user = await redeem(uow, mint, token, Purpose.PASSWORD_RESET, now=now)
        await uow.users.set_password_hash(user.id, new_hash, now)
        await end_sessions(
            uow, user.id, RevokeReason.PASSWORD_RESET, now=now, on_revoked=on_revoked
        )
        uow.record(PasswordChanged(user.id, by_reset=True, occurred_at=now))
        await audit.record(
            uow, AuditAction.PASSWORD_RESET, now=now, client_ip=client_ip, target_id=user.id
        )
        await uow.commit()
