"""Exporting what tasks holds about the caller (part of the platform export, docs/auth.md)."""

from __future__ import annotations

from chore_tasks.domain.model import Actor
from chore_tasks.usecases.ports import TasksUnitOfWork, UserData


async def export_user_data(uow: TasksUnitOfWork, actor: Actor) -> UserData:
    """The caller's own data; one transaction, so the parts agree with each other."""
    async with uow:
        return await uow.user_data.of(actor.user_id)
