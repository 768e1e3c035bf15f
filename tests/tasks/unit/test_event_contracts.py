"""Every domain event is published as its v1 contract, on the subject SPEC.md names."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import timedelta
from uuid import uuid4

import pytest

from chore_common.contracts.envelope import Envelope
from chore_common.contracts.registry import contract_for
from chore_tasks.adapters.contracts import contract_of
from chore_tasks.domain import events
from chore_tasks.domain.events import DomainEvent

from .factories import NOW

SUBJECTS = {
    events.TaskCreated: "tasks.task.created",
    events.OfferCreated: "tasks.offer.created",
    events.TaskAssigned: "tasks.task.assigned",
    events.TaskStarted: "tasks.task.started",
    events.TaskDone: "tasks.task.done",
    events.TaskCompleted: "tasks.task.completed",
    events.TaskDisputed: "tasks.task.disputed",
    events.TaskDisputeResolved: "tasks.task.dispute_resolved",
    events.TaskCancelled: "tasks.task.cancelled",
    events.TaskExpired: "tasks.task.expired",
    events.ReviewCreated: "tasks.review.created",
    events.ReviewPublished: "tasks.review.published",
    events.ReminderDue: "tasks.task.reminder_due",
    events.OfferUpdated: "tasks.offer.updated",
    events.OfferWithdrawn: "tasks.offer.withdrawn",
    events.OfferDeclined: "tasks.offer.declined",
    events.TaskReopened: "tasks.task.reopened",
    events.TaskReposted: "tasks.task.reposted",
    events.TaskEdited: "tasks.task.edited",
}

# Fields whose contract allows only some words.
CHOICES = {"confirmed_by": "auto", "outcome": "cancelled"}


def concrete_events() -> set[type[DomainEvent]]:
    # From the module, not __subclasses__(): slots dataclasses leave their pre-slots twin there.
    bases = {DomainEvent, events.TaskEvent}
    return {
        v
        for v in vars(events).values()
        if isinstance(v, type) and issubclass(v, DomainEvent) and v not in bases
    }


def sample(cls: type[DomainEvent]) -> DomainEvent:
    """An instance with a plausible value in every field, derived from its annotations."""
    values: dict[str, object] = {}
    for f in fields(cls):
        hint = str(f.type)
        if hint.startswith("tuple"):
            values[f.name] = (uuid4(),)
        elif hint.startswith("dict"):
            values[f.name] = {"budget_cents": 5000}
        elif f.name == "by":
            values[f.name] = "owner"
        elif "UUID" in hint:
            values[f.name] = uuid4()
        elif "datetime" in hint:
            values[f.name] = NOW + timedelta(hours=2)
        elif f.name in CHOICES:
            values[f.name] = CHOICES[f.name]
        elif f.name == "rating":
            values[f.name] = 4
        elif f.name == "currency":
            values[f.name] = "JPY"
        elif "int" in hint:
            values[f.name] = 3
        else:
            values[f.name] = "Clean the gutters"
    return cls(**values)  # type: ignore[arg-type]


def test_every_domain_event_has_a_subject() -> None:
    assert concrete_events() == set(SUBJECTS)


@pytest.mark.parametrize("cls", list(SUBJECTS), ids=lambda c: c.__name__)
def test_every_domain_event_maps_to_its_contract(cls: type[DomainEvent]) -> None:
    event = sample(cls)
    contract = contract_of(event)
    assert (SUBJECTS[cls], 1) == (contract.TYPE, contract.VERSION)
    assert contract_for(contract.TYPE, 1) is type(contract)
    shared = {f.name for f in fields(cls)} & set(type(contract).model_fields)
    for name in shared:
        assert getattr(contract, name) == getattr(event, name), name
    envelope = Envelope.from_bytes(Envelope.of(contract, "tasks").to_bytes())
    assert envelope.payload(type(contract)) == contract


def test_a_review_by_the_assignee_keeps_owner_and_tasker_as_the_task_s_two_sides() -> None:
    owner, tasker = uuid4(), uuid4()
    event = replace(
        sample(events.ReviewCreated), owner_id=owner, tasker_id=tasker, author_id=tasker
    )
    assert isinstance(event, events.ReviewCreated)
    event = replace(event, subject_id=owner)
    contract = contract_of(event)
    assert (contract.owner_id, contract.tasker_id) == (owner, tasker)  # type: ignore[attr-defined]
    assert (contract.author_id, contract.subject_id) == (tasker, owner)  # type: ignore[attr-defined]


def test_a_published_review_says_when_it_was_published() -> None:
    event = sample(events.ReviewPublished)
    contract = contract_of(event)
    assert contract.published_at == event.occurred_at  # type: ignore[attr-defined]
    assert contract.rating == 4  # type: ignore[attr-defined]
