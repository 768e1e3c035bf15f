"""What messaging does with auth's events about people, and how it shows them.

Names come from `auth.user.registered` and `auth.user.profile_updated`; on
`auth.user.deleted` the name becomes "Deleted user" for good and the user's own
notifications and notification settings go (docs/auth.md, privacy). The messages they sent
stay: they are the other participant's record too. Each runs in the consumer's transaction.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from chore_messaging.domain.people import Person
from chore_messaging.usecases.ports import MessagingUnitOfWork


async def person_named(uow: MessagingUnitOfWork, user_id: UUID, name: str, now: datetime) -> None:
    await uow.people.named(user_id, name, now)


async def person_deleted(uow: MessagingUnitOfWork, user_id: UUID, now: datetime) -> None:
    await uow.people.deleted(user_id, now)
    await uow.notifications.forget_user(user_id)
    await uow.preferences.forget(user_id)


async def people(uow: MessagingUnitOfWork, user_ids: list[UUID]) -> dict[UUID, Person]:
    """The people behind these ids, from messaging's own read model (no call to auth)."""
    async with uow:
        return await uow.people.of(user_ids)
