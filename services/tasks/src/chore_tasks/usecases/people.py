"""What tasks does with auth's events about people: keep their name and status, and take a
banned, suspended or deleted tasker's open offers off the market.

Each runs inside the consumer's transaction (its inbox row commits with it), so a
redelivered event changes nothing. Hiding a person's open tasks is browse's business: it
leaves out tasks whose owner's status hides them (adapters/search.py), so lifting a
suspension shows them again. Withdrawn offers stay withdrawn: the tasker offers again.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from chore_tasks.domain.model import SCHEDULER
from chore_tasks.domain.people import PersonStatus, status_of, withdraws_offers
from chore_tasks.usecases.commands import WithdrawOffer
from chore_tasks.usecases.offers import withdraw_in
from chore_tasks.usecases.ports import TasksUnitOfWork


async def person_named(uow: TasksUnitOfWork, user_id: UUID, name: str, now: datetime) -> None:
    """A sign-up or a profile edit: the name offers show from now on."""
    await uow.people.named(user_id, name, now)


async def status_changed(
    uow: TasksUnitOfWork, user_id: UUID, status: str, now: datetime
) -> list[UUID]:
    """An admin's suspension, ban or unsuspension; returns the offers it withdrew."""
    return await _set_status(uow, user_id, status_of(status), now)


async def person_deleted(uow: TasksUnitOfWork, user_id: UUID, now: datetime) -> list[UUID]:
    """The account is gone: "Deleted user" for good, their open tasks hidden, offers withdrawn."""
    return await _set_status(uow, user_id, PersonStatus.DELETED, now)


async def _set_status(
    uow: TasksUnitOfWork, user_id: UUID, status: PersonStatus, now: datetime
) -> list[UUID]:
    await uow.people.set_status(user_id, status, now)
    if not withdraws_offers(status):
        return []
    withdrawn = []
    for offer in await uow.offers.open_of_tasker(user_id):
        # The tasker's own use case, as the system: the same checks, event and notification.
        cmd = WithdrawOffer(task_id=offer.task_id, offer_id=offer.id, actor=SCHEDULER)
        withdrawn.append((await withdraw_in(uow, cmd, now)).id)
    return withdrawn
