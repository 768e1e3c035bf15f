"""Deleting one's account (password confirmed) and exporting what auth holds about one.

Deletion keeps the row (ids stay valid in other services' data and in the audit log) but
erases what identifies the person: email, name, profile, password hash, pending links
(docs/auth.md "Privacy").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chore_auth.domain import accounts
from chore_auth.domain.audit import AuditAction, AuditEntry, AuditFilter
from chore_auth.domain.errors import SessionRevoked, WrongPassword
from chore_auth.domain.events import RevokeReason, UserDeleted
from chore_auth.domain.model import Session, User
from chore_auth.usecases import audit
from chore_auth.usecases.accounts import live_session, me
from chore_auth.usecases.commands import Caller
from chore_auth.usecases.ports import Hasher, OnRevoked, UowFactory
from chore_auth.usecases.sessions import end_sessions

EXPORT_AUDIT_MAX = 10_000


async def delete_account(
    uow_factory: UowFactory,
    hasher: Hasher,
    caller: Caller,
    *,
    password: str,
    now: datetime,
    client_ip: str,
    on_revoked: OnRevoked,
) -> None:
    user = await me(uow_factory, caller, now=now)
    if not await hasher.verify(user.password_hash, password):
        raise WrongPassword("The password is incorrect.")
    async with uow_factory() as uow:
        await uow.users.save(accounts.erase(user, now=now))
        await uow.account_tokens.delete_of_user(user.id)
        await end_sessions(
            uow, user.id, RevokeReason.ACCOUNT_DELETED, now=now, on_revoked=on_revoked
        )
        uow.record(UserDeleted(user.id, now))
        await audit.record(
            uow,
            AuditAction.ACCOUNT_DELETED,
            now=now,
            client_ip=client_ip,
            actor_id=user.id,
            target_id=user.id,
        )
        await uow.commit()


@dataclass(frozen=True)
class Export:
    user: User
    sessions: list[Session]
    audit: list[AuditEntry]


async def export(uow_factory: UowFactory, caller: Caller, *, now: datetime) -> Export:
    """Everything auth keeps about the caller, password hash and token hashes excepted."""
    async with uow_factory() as uow:
        await live_session(uow, caller, now=now)
        user = await uow.users.get(caller.user_id)
        found = await uow.sessions.all_of_user(caller.user_id)
        entries = await uow.audit.page(
            AuditFilter(target_id=caller.user_id), after=None, limit=EXPORT_AUDIT_MAX
        )
    if user is None:
        raise SessionRevoked("The account no longer exists.")
    return Export(user=user, sessions=found, audit=entries)
