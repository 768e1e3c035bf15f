"""Builders for domain objects with unique ids, so tests never collide."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from chore_tasks.domain.model import Actor, Dispute, Offer, OfferStatus, Role, Status, Task

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def client() -> Actor:
    return Actor(uuid4(), Role.CLIENT)


def tasker() -> Actor:
    return Actor(uuid4(), Role.TASKER)


def admin() -> Actor:
    return Actor(uuid4(), Role.ADMIN)


ASSIGNED_STATES = (
    Status.ASSIGNED,
    Status.IN_PROGRESS,
    Status.DONE,
    Status.DISPUTED,
    Status.COMPLETED,
)


def make_task(
    *,
    owner: Actor | None = None,
    status: Status = Status.OPEN,
    assignee: Actor | None = None,
    due_at: datetime | None = None,
    version: int = 1,
    created_at: datetime = NOW - timedelta(days=1),
) -> Task:
    """A task in any state; past `open` it gets an assignee unless one is given."""
    if assignee is None and status in ASSIGNED_STATES:
        assignee = tasker()
    return Task(
        id=uuid4(),
        owner_id=(owner or client()).user_id,
        title="Mow the lawn",
        description="Front and back",
        category="garden",
        budget_cents=4500,
        currency="EUR",
        due_at=due_at,
        location=None,
        status=status,
        assignee_id=assignee.user_id if assignee else None,
        offer_id=uuid4() if assignee else None,
        cancel_reason=None,
        version=version,
        created_at=created_at,
        updated_at=created_at,
    )


def make_offer(task: Task, *, by: Actor | None = None, price_cents: int = 4000) -> Offer:
    return Offer(
        id=uuid4(),
        task_id=task.id,
        tasker_id=(by or tasker()).user_id,
        price_cents=price_cents,
        currency=task.currency,
        message="I can do it tomorrow",
        status=OfferStatus.OPEN,
        created_at=NOW,
        version=1,
        updated_at=NOW,
    )


def make_dispute(task: Task, *, reason: str = "Only half the lawn is mown") -> Dispute:
    assert task.assignee_id is not None
    return Dispute(
        id=uuid4(),
        task_id=task.id,
        owner_id=task.owner_id,
        assignee_id=task.assignee_id,
        title=task.title,
        reason=reason,
        created_at=NOW - timedelta(hours=1),
    )


def with_status(task: Task, status: Status) -> Task:
    return replace(task, status=status)
