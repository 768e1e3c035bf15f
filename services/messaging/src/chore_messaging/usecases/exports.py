"""Exporting what messaging holds about the caller (part of the platform export,
docs/auth.md)."""

from __future__ import annotations

from uuid import UUID

from chore_messaging.usecases.ports import MessagingUnitOfWork, UserData


async def export_user_data(uow: MessagingUnitOfWork, user_id: UUID) -> UserData:
    """The caller's own data; one transaction, so the parts agree with each other."""
    async with uow:
        return await uow.user_data.of(user_id)
