"""Notification settings: read and change one's own, and the question every notifier asks,
"may this user get kind K on channel C now?" (in-app here, email by the mail notifier)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from chore_messaging.domain.preferences import Channel, Preferences, QuietHours, SettingKind
from chore_messaging.usecases.ports import MessagingUnitOfWork


async def get_preferences(uow: MessagingUnitOfWork, user_id: UUID) -> Preferences:
    async with uow:
        return await uow.preferences.get(user_id)


async def change_preferences(
    uow: MessagingUnitOfWork,
    user_id: UUID,
    now: datetime,
    *,
    switches: dict[SettingKind, dict[Channel, bool]] | None = None,
    time_zone: str | None = None,
    quiet: QuietHours | None = None,
    clear_quiet: bool = False,
) -> Preferences:
    """A partial update in one transaction: what is not named keeps its value."""
    async with uow:
        current = await uow.preferences.get(user_id)
        changed = current.with_changes(switches, time_zone, quiet, clear_quiet)
        await uow.preferences.put(user_id, changed, now)
        await uow.commit()
        return changed


async def allows(
    uow: MessagingUnitOfWork, user_id: UUID, kind: str, channel: Channel, now: datetime
) -> bool:
    """Inside a unit of work already open (a consumer's transaction)."""
    return (await uow.preferences.get(user_id)).allows(kind, channel, now)


async def may_notify(
    uow: MessagingUnitOfWork, user_id: UUID, kind: str, channel: Channel, now: datetime
) -> bool:
    """May a notification of `kind` (a NotificationKind value) reach `user_id` on `channel`
    at `now`? Its own short transaction: for a notifier outside one (the mail sender)."""
    async with uow:
        return await allows(uow, user_id, kind, channel, now)
