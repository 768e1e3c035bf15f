"""One's own profile, read and edited, and anyone's public profile."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from chore_auth.domain import profiles
from chore_auth.domain.errors import UserNotFound
from chore_auth.domain.model import User
from chore_auth.domain.profiles import ProfileChanges
from chore_auth.usecases.accounts import live_session, me
from chore_auth.usecases.commands import Caller
from chore_auth.usecases.ports import UowFactory


async def my_profile(uow_factory: UowFactory, caller: Caller, *, now: datetime) -> User:
    return await me(uow_factory, caller, now=now)


async def update_profile(
    uow_factory: UowFactory, caller: Caller, changes: ProfileChanges, *, now: datetime
) -> User:
    """Changed fields saved; `auth.user.profile_updated` (and `contact_changed` for a new
    name) announced in the same transaction. An edit that changes nothing announces nothing."""
    async with uow_factory() as uow:
        await live_session(uow, caller, now=now)
        user = await uow.users.get(caller.user_id)
        if user is None:
            raise UserNotFound("No such user.")
        updated, events = profiles.update_profile(user, changes, now=now)
        if events:
            await uow.users.save(updated)
            for event in events:
                uow.record(event)
            await uow.commit()
    return updated


async def public_profile(uow_factory: UowFactory, user_id: UUID) -> User:
    """Anyone's profile, for others to see; a deleted account is not found."""
    async with uow_factory() as uow:
        user = await uow.users.get(user_id)
    if user is None or user.deleted_at is not None:
        raise UserNotFound("No such user.")
    return user
