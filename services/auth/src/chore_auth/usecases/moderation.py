"""Admins suspend, unsuspend and ban accounts; the sessions of a stopped account end."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from chore_auth.domain import moderation
from chore_auth.domain.audit import AuditAction
from chore_auth.domain.errors import UserNotFound
from chore_auth.domain.events import RevokeReason
from chore_auth.domain.model import Role, User
from chore_auth.domain.moderation import Move
from chore_auth.usecases import audit
from chore_auth.usecases.accounts import live_session
from chore_auth.usecases.commands import Caller
from chore_auth.usecases.ports import OnRevoked, UowFactory
from chore_auth.usecases.sessions import end_sessions
from chore_common.errors import Forbidden

_AUDITED: dict[Move, AuditAction] = {
    Move.SUSPEND: AuditAction.SUSPENDED,
    Move.UNSUSPEND: AuditAction.UNSUSPENDED,
    Move.BAN: AuditAction.BANNED,
}


async def change_status(
    uow_factory: UowFactory,
    admin: Caller,
    user_id: UUID,
    move: Move,
    reason: str,
    *,
    now: datetime,
    client_ip: str,
    on_revoked: OnRevoked,
) -> User:
    """`auth.user.status_changed`; a suspension or ban also revokes every session."""
    async with uow_factory() as uow:
        await live_session(uow, admin, now=now)
        user = await uow.users.get(user_id)
        if user is None or user.deleted_at is not None:
            raise UserNotFound("No such user.")
        if user.role is Role.ADMIN:
            raise Forbidden("Admins are moderated by operators.", code="admin_target")
        moved, event = moderation.apply(user, move, reason, now=now)
        await uow.users.save(moved)
        uow.record(event)
        if moderation.ends_sessions(moved.status):
            await end_sessions(uow, user.id, RevokeReason.ADMIN, now=now, on_revoked=on_revoked)
        await audit.record(
            uow,
            _AUDITED[move],
            now=now,
            client_ip=client_ip,
            actor_id=admin.user_id,
            target_id=user.id,
            detail=reason,
        )
        await uow.commit()
    return moved
