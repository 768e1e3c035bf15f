"""Offer commands and queries: a tasker offers, updates or withdraws their offer; the owner
sees all offers, a tasker their own."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from chore_common.paging import Page
from chore_tasks.domain import offers, policies
from chore_tasks.domain.model import Offer, OfferStatus, Task
from chore_tasks.domain.people import PersonCard
from chore_tasks.usecases.access import (
    check_limit,
    check_offer_if_match,
    save_moved_offer,
    save_offer,
    task_offer,
    visible_task,
)
from chore_tasks.usecases.commands import ListOffers, MakeOffer, UpdateOffer, WithdrawOffer
from chore_tasks.usecases.ports import TasksUnitOfWork


async def make_offer(uow: TasksUnitOfWork, cmd: MakeOffer, now: datetime) -> Offer:
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        offer, event = offers.make_offer(
            task,
            offer_id=uuid4(),
            by=cmd.actor,
            price_cents=cmd.price_cents,
            message=cmd.message,
            currency=cmd.currency,
            # The repository also refuses a second open offer (unique index) if two race here.
            has_open_offer=await uow.offers.has_open(task.id, cmd.actor.user_id),
            now=now,
        )
        await uow.offers.add(offer)
        uow.record(event)
        await uow.commit()
    return offer


async def list_offers(uow: TasksUnitOfWork, cmd: ListOffers, now: datetime) -> Page[Offer]:
    return (await list_offers_with_people(uow, cmd, now))[0]


async def list_offers_with_people(
    uow: TasksUnitOfWork, cmd: ListOffers, now: datetime
) -> tuple[Page[Offer], dict[UUID, PersonCard]]:
    """The offers, and a card (name, rating, completed tasks) of each offer's tasker, from
    tasks' own read model: no call to auth."""
    check_limit(cmd.limit)
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        only = policies.offer_scope(task, cmd.actor)
        page = await uow.offers.list(task.id, tasker_id=only, limit=cmd.limit, after=cmd.after)
        cards = await uow.people.cards([o.tasker_id for o in page.items])
        return page, cards


async def update_offer(uow: TasksUnitOfWork, cmd: UpdateOffer, now: datetime) -> Offer:
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        offer = await task_offer(uow, task, cmd.offer_id)
        policies.ensure_offer_owner(offer, cmd.actor)
        check_offer_if_match(offer, cmd.if_match)
        moved, event = offers.update_offer(
            task, offer, by=cmd.actor, price_cents=cmd.price_cents, message=cmd.message, now=now
        )
        await save_offer(uow, moved, loaded=offer, if_match=cmd.if_match)
        uow.record(event)
        await uow.commit()
    return moved


async def withdraw_offer(uow: TasksUnitOfWork, cmd: WithdrawOffer, now: datetime) -> Offer:
    async with uow:
        moved = await withdraw_in(uow, cmd, now)
        await uow.commit()
    return moved


async def withdraw_in(uow: TasksUnitOfWork, cmd: WithdrawOffer, now: datetime) -> Offer:
    """`withdraw_offer` inside a transaction the caller owns: the tasker's own request, or
    the system withdrawing a banned tasker's offers in the consumer's transaction."""
    task = await visible_task(uow, cmd.task_id, cmd.actor)
    offer = await task_offer(uow, task, cmd.offer_id)
    policies.ensure_offer_owner(offer, cmd.actor)
    check_offer_if_match(offer, cmd.if_match)
    moved, event = offers.withdraw_offer(task, offer, by=cmd.actor, now=now)
    await save_offer(uow, moved, loaded=offer, if_match=cmd.if_match)
    uow.record(event)
    return moved


async def decline_other_offers(
    uow: TasksUnitOfWork, task: Task, accepted: Offer, now: datetime
) -> None:
    """Every other open offer of the just-assigned `task` becomes declined, one event each."""
    still_open = await uow.offers.of_task(task.id, OfferStatus.OPEN)
    for declined, event in offers.decline_others(task, accepted, still_open, now=now):
        await save_moved_offer(uow, declined)
        uow.record(event)
