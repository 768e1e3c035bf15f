"""Offers: making one, and every later move of one, from one table.

One open offer per tasker per task, never on one's own task. An offer moves only along
`OFFER_MOVES`; any other (status, action) pair is `InvalidOfferTransition` (409). A tasker
updates or withdraws their own open offer; accepting one offer declines every other open
offer of the task; a task that reopens makes its declined offers open again and retires the
accepted one (`withdrawn` when the assignee stepped back, `released` when the owner let them
go). Each move bumps the offer's `version`, its ETag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from typing import Final
from uuid import UUID

from chore_common.errors import Conflict
from chore_tasks.domain import policies
from chore_tasks.domain.errors import InvalidOfferTransition, OfferNotFound
from chore_tasks.domain.events import OfferCreated, OfferDeclined, OfferUpdated, OfferWithdrawn
from chore_tasks.domain.model import (
    MESSAGE_MAX,
    Actor,
    Offer,
    OfferAction,
    OfferStatus,
    Status,
    Task,
    require_cents,
    require_text,
)
from chore_tasks.domain.money import require_same_currency

OFFER_MOVES: Final[Mapping[tuple[OfferStatus, OfferAction], OfferStatus]] = MappingProxyType(
    {
        (OfferStatus.OPEN, OfferAction.UPDATE): OfferStatus.OPEN,
        (OfferStatus.OPEN, OfferAction.WITHDRAW): OfferStatus.WITHDRAWN,
        (OfferStatus.OPEN, OfferAction.ACCEPT): OfferStatus.ACCEPTED,
        (OfferStatus.OPEN, OfferAction.DECLINE): OfferStatus.DECLINED,
        (OfferStatus.DECLINED, OfferAction.REOPEN): OfferStatus.OPEN,
        (OfferStatus.ACCEPTED, OfferAction.STEP_BACK): OfferStatus.WITHDRAWN,
        (OfferStatus.ACCEPTED, OfferAction.RELEASE): OfferStatus.RELEASED,
    }
)


def next_offer_status(status: OfferStatus, action: OfferAction) -> OfferStatus:
    try:
        return OFFER_MOVES[status, action]
    except KeyError:
        raise InvalidOfferTransition(status, action) from None


def move_offer(offer: Offer, action: OfferAction, now: datetime) -> Offer:
    """Apply one table move; the only place an offer's status or version changes."""
    status = next_offer_status(offer.status, action)
    return replace(offer, status=status, version=offer.version + 1, updated_at=now)


def make_offer(
    task: Task,
    *,
    offer_id: UUID,
    by: Actor,
    price_cents: int,
    message: str,
    has_open_offer: bool,
    now: datetime,
    currency: str | None = None,
) -> tuple[Offer, OfferCreated]:
    """`currency`, when the tasker names one, must be the task's (422 otherwise)."""
    policies.ensure_can_offer(task, by, has_open_offer=has_open_offer)
    require_cents("price_cents", price_cents)
    currency = require_same_currency(currency, task.currency)
    require_text("message", message, max_len=MESSAGE_MAX, allow_empty=True)
    offer = Offer(
        id=offer_id,
        task_id=task.id,
        tasker_id=by.user_id,
        price_cents=price_cents,
        currency=currency,
        message=message,
        status=OfferStatus.OPEN,
        created_at=now,
        version=1,
        updated_at=now,
    )
    event = OfferCreated(
        occurred_at=now,
        offer_id=offer.id,
        task_id=task.id,
        owner_id=task.owner_id,
        tasker_id=by.user_id,
        title=task.title,
        price_cents=price_cents,
        currency=currency,
        message=message,
    )
    return offer, event


def update_offer(
    task: Task,
    offer: Offer,
    *,
    by: Actor,
    price_cents: int | None,
    message: str | None,
    now: datetime,
) -> tuple[Offer, OfferUpdated]:
    """The tasker changes the price or message of their open offer on an open task."""
    _ensure_own_offer(task, offer, by)
    moved = move_offer(offer, OfferAction.UPDATE, now)  # the offer's state first, then the task's
    if task.status is not Status.OPEN:
        raise Conflict(f"the task is {task.status.value}", code="task_not_open")
    price = offer.price_cents if price_cents is None else price_cents
    text = offer.message if message is None else message
    require_cents("price_cents", price)
    require_text("message", text, max_len=MESSAGE_MAX, allow_empty=True)
    moved = replace(moved, price_cents=price, message=text)
    event = OfferUpdated(
        occurred_at=now,
        offer_id=moved.id,
        task_id=task.id,
        owner_id=task.owner_id,
        tasker_id=moved.tasker_id,
        title=task.title,
        price_cents=price,
        message=text,
        version=moved.version,
    )
    return moved, event


def withdraw_offer(
    task: Task, offer: Offer, *, by: Actor, now: datetime
) -> tuple[Offer, OfferWithdrawn]:
    """The tasker takes back their open offer (the task may be open, expired or cancelled)."""
    _ensure_own_offer(task, offer, by)
    moved = move_offer(offer, OfferAction.WITHDRAW, now)
    event = OfferWithdrawn(
        occurred_at=now,
        offer_id=moved.id,
        task_id=task.id,
        owner_id=task.owner_id,
        tasker_id=moved.tasker_id,
        title=task.title,
        version=moved.version,
    )
    return moved, event


def decline_others(
    task: Task, accepted: Offer, others: list[Offer], *, now: datetime
) -> list[tuple[Offer, OfferDeclined]]:
    """Every other open offer of an assigned task, declined, each with its own event."""
    declined = []
    for offer in others:
        if offer.id == accepted.id or offer.status is not OfferStatus.OPEN:
            continue
        moved = move_offer(offer, OfferAction.DECLINE, now)
        event = OfferDeclined(
            occurred_at=now,
            offer_id=moved.id,
            task_id=task.id,
            tasker_id=moved.tasker_id,
            owner_id=task.owner_id,
            title=task.title,
        )
        declined.append((moved, event))
    return declined


def reopen_declined(offers: list[Offer], *, now: datetime) -> list[Offer]:
    """The declined offers of a task that is open again, open again too."""
    return [
        move_offer(o, OfferAction.REOPEN, now) for o in offers if o.status is OfferStatus.DECLINED
    ]


def _ensure_own_offer(task: Task, offer: Offer, by: Actor) -> None:
    if offer.task_id != task.id:
        raise OfferNotFound(f"no offer {offer.id} on task {task.id}")
    policies.ensure_offer_owner(offer, by)
