"""The audit log: recording security events in the acting transaction, reading, purging."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from chore_auth.domain import audit
from chore_auth.domain.audit import AuditAction, AuditEntry, AuditFilter
from chore_auth.usecases.accounts import live_session
from chore_auth.usecases.commands import Caller
from chore_auth.usecases.ports import UnitOfWork, UowFactory
from chore_common.paging import PageKey


async def record(
    uow: UnitOfWork,
    action: AuditAction,
    *,
    now: datetime,
    client_ip: str,
    actor_id: UUID | None = None,
    target_id: UUID | None = None,
    detail: str = "",
) -> None:
    """One entry, committed with whatever the action changed (or not at all)."""
    await uow.audit.add(
        audit.entry(
            uuid4(),
            action,
            at=now,
            actor_id=actor_id,
            target_id=target_id,
            client_ip=client_ip,
            detail=detail,
        )
    )


async def list_entries(
    uow_factory: UowFactory,
    admin: Caller,
    where: AuditFilter,
    *,
    after: PageKey | None,
    limit: int,
    now: datetime,
) -> tuple[list[AuditEntry], PageKey | None]:
    """A page, newest first, and where the next one starts (None on the last)."""
    async with uow_factory() as uow:
        await live_session(uow, admin, now=now)
        found = await uow.audit.page(where, after=after, limit=limit + 1)
    items = found[:limit]
    last = PageKey(items[-1].at, items[-1].id) if len(found) > limit else None
    return items, last


async def purge(uow_factory: UowFactory, *, now: datetime) -> int:
    """Forget entries older than the retention (a year): the scheduled purge's one step."""
    async with uow_factory() as uow:
        dropped = await uow.audit.purge_before(now - audit.RETENTION)
        await uow.commit()
    return dropped
