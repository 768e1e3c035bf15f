"""Making an offer on a task: one open offer per tasker per task, never on one's own task."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from chore_tasks.domain import policies
from chore_tasks.domain.events import OfferCreated
from chore_tasks.domain.model import (
    MESSAGE_MAX,
    Actor,
    Offer,
    OfferStatus,
    Task,
    require_cents,
    require_text,
)
from chore_tasks.domain.money import require_same_currency


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
