"""Sign-up, operator-created admins, and reading one's own account."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import uuid4

from chore_auth.domain import accounts
from chore_auth.domain.account_tokens import Purpose
from chore_auth.domain.errors import EmailTaken, SessionRevoked
from chore_auth.domain.model import Role, User
from chore_auth.domain.profiles import contact_changed
from chore_auth.usecases.commands import Caller, Links
from chore_auth.usecases.links import mail_link
from chore_auth.usecases.ports import Hasher, RefreshTokenMint, UnitOfWork, UowFactory


@dataclass(frozen=True)
class Register:
    email: str
    password: str
    name: str
    role: Role


async def register(
    uow_factory: UowFactory,
    hasher: Hasher,
    cmd: Register,
    *,
    now: datetime,
    operator: bool = False,
    mail: tuple[RefreshTokenMint, Links] | None = None,
) -> User:
    """A new account; `operator=True` (the CLI) may create admins, verified from the start.
    With `mail`, the verification link is mailed (`email_verification_requested`)."""
    accounts.check_password_rules(cmd.password)
    email = accounts.normalize_email(cmd.email)
    accounts.check_email(email)
    async with uow_factory() as uow:
        if await uow.users.by_email(email) is not None:
            raise EmailTaken("An account with this email already exists.")
    # Hash outside the transaction: no connection (or SQLite write lock) held for 30 ms.
    password_hash = await hasher.hash(cmd.password)
    user, event = accounts.new_user(
        user_id=uuid4(),
        email=email,
        name=cmd.name,
        role=cmd.role,
        password_hash=password_hash,
        now=now,
        operator=operator,
    )
    if operator:
        user = replace(user, email_verified_at=now)
    async with uow_factory() as uow:
        await uow.users.add(user)
        uow.record(event)
        if mail is not None:
            uow.record(contact_changed(user, now))
            mint, links = mail
            if not user.email_verified:
                await mail_link(uow, user, Purpose.VERIFY_EMAIL, mint=mint, links=links, now=now)
        await uow.commit()
    return user


async def me(uow_factory: UowFactory, caller: Caller, *, now: datetime) -> User:
    async with uow_factory() as uow:
        await live_session(uow, caller, now=now)
        user = await uow.users.get(caller.user_id)
    if user is None:
        raise SessionRevoked("The account no longer exists.")
    return user


async def live_session(uow: UnitOfWork, caller: Caller, *, now: datetime) -> None:
    """Auth is the source of truth: its own routes check the session row, not only the token."""
    session = await uow.sessions.get(caller.session_id)
    if session is None or session.user_id != caller.user_id or not session.active(now):
        raise SessionRevoked("This session has ended; log in again.")
