"""Offer commands and queries: a tasker offers, updates or withdraws their offer; the owner
sees all offers, a tasker their own."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from chore_common.paging import Page
from chore_tasks.domain import offers, policies
from chore_tasks.domain.model import Offer, OfferStatus, Task
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
    check_limit(cmd.limit)
    async with uow:
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        only = policies.offer_scope(task, cmd.actor)
        return await uow.offers.list(task.id, tasker_id=only, limit=cmd.limit, after=cmd.after)


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
        task = await visible_task(uow, cmd.task_id, cmd.actor)
        offer = await task_offer(uow, task, cmd.offer_id)
        policies.ensure_offer_owner(offer, cmd.actor)
        check_offer_if_match(offer, cmd.if_match)
        moved, event = offers.withdraw_offer(task, offer, by=cmd.actor, now=now)
        await save_offer(uow, moved, loaded=offer, if_match=cmd.if_match)
        uow.record(event)
        await uow.commit()
    return moved


async def decline_other_offers(
    uow: TasksUnitOfWork, task: Task, accepted: Offer, now: datetime
) -> None:
    """Every other open offer of the just-assigned `task` becomes declined, one event each."""
    still_open = await uow.offers.of_task(task.id, OfferStatus.OPEN)
    for declined, event in offers.decline_others(task, accepted, still_open, now=now):
        await save_moved_offer(uow, declined)
        uow.record(event)
