"""Offer commands and queries: a tasker offers; the owner sees all offers, a tasker their own."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from chore_common.paging import Page
from chore_tasks.domain import offers, policies
from chore_tasks.domain.model import Offer
from chore_tasks.usecases.access import check_limit, visible_task
from chore_tasks.usecases.commands import ListOffers, MakeOffer
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
