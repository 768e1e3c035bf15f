"""Proving a mailbox: the link at sign-up and on an email change, opened once."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from chore_auth.domain import accounts
from chore_auth.domain.account_tokens import Purpose
from chore_auth.domain.audit import AuditAction
from chore_auth.domain.errors import EmailTaken, WrongPassword
from chore_auth.domain.profiles import contact_changed
from chore_auth.usecases import audit
from chore_auth.usecases.accounts import me
from chore_auth.usecases.commands import Caller, Links
from chore_auth.usecases.links import mail_link, redeem
from chore_auth.usecases.ports import Hasher, RefreshTokenMint, UowFactory


async def verify_email(
    uow_factory: UowFactory, mint: RefreshTokenMint, token: str, *, now: datetime, client_ip: str
) -> None:
    """The link works once; the next access token (refresh) carries `ev: true`."""
    async with uow_factory() as uow:
        user = await redeem(uow, mint, token, Purpose.VERIFY_EMAIL, now=now)
        verified = replace(user, email_verified_at=now, updated_at=now)
        await uow.users.save(verified)
        uow.record(contact_changed(verified, now))
        await audit.record(
            uow, AuditAction.EMAIL_VERIFIED, now=now, client_ip=client_ip, target_id=user.id
        )
        await uow.commit()


async def resend_verification(
    uow_factory: UowFactory, caller: Caller, *, mint: RefreshTokenMint, links: Links, now: datetime
) -> None:
    user = await me(uow_factory, caller, now=now)
    if user.email_verified:
        return
    async with uow_factory() as uow:
        await mail_link(uow, user, Purpose.VERIFY_EMAIL, mint=mint, links=links, now=now)
        await uow.commit()


async def change_email(
    uow_factory: UowFactory,
    hasher: Hasher,
    caller: Caller,
    *,
    email: str,
    password: str,
    mint: RefreshTokenMint,
    links: Links,
    now: datetime,
    client_ip: str,
) -> None:
    """A new address, unverified until its link is opened (password confirmed)."""
    email = accounts.normalize_email(email)
    accounts.check_email(email)
    user = await me(uow_factory, caller, now=now)
    if not await hasher.verify(user.password_hash, password):
        raise WrongPassword("The password is incorrect.")
    if email == user.email:
        return
    async with uow_factory() as uow:
        if await uow.users.by_email(email) is not None:
            raise EmailTaken("An account with this email already exists.")
        moved = replace(user, email=email, email_verified_at=None, updated_at=now)
        await uow.users.save(moved)
        uow.record(contact_changed(moved, now))
        await mail_link(uow, moved, Purpose.VERIFY_EMAIL, mint=mint, links=links, now=now)
        await audit.record(
            uow,
            AuditAction.EMAIL_CHANGED,
            now=now,
            client_ip=client_ip,
            actor_id=user.id,
            target_id=user.id,
        )
        await uow.commit()
