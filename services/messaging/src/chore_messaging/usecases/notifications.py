"""A user's notifications: listed newest first, marked read one at a time."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from chore_common.paging import Page, PageKey
from chore_messaging.domain.errors import NotificationNotFound
from chore_messaging.domain.model import Notification
from chore_messaging.usecases.ports import MessagingUnitOfWork


async def list_notifications(
    uow: MessagingUnitOfWork,
    user_id: UUID,
    *,
    limit: int,
    after: PageKey | None,
    unread_only: bool = False,
) -> Page[Notification]:
    async with uow:
        return await uow.notifications.list_for(
            user_id, limit=limit, after=after, unread_only=unread_only
        )


async def mark_notification_read(
    uow: MessagingUnitOfWork, notification_id: UUID, user_id: UUID, now: datetime
) -> Notification:
    """Idempotent; someone else's notification is a 404, like a missing one."""
    async with uow:
        note = await uow.notifications.mark_read(notification_id, user_id, now)
        if note is None:
            raise NotificationNotFound("no such notification")
        await uow.commit()
        return note
