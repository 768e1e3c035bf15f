"""Every domain event is published as its v1 contract, on the subject SPEC.md names."""

from __future__ import annotations

from dataclasses import fields
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
    events.TaskCompleted: "tasks.task.completed",
    events.TaskCancelled: "tasks.task.cancelled",
    events.TaskExpired: "tasks.task.expired",
    events.ReviewCreated: "tasks.review.created",
    events.ReminderDue: "tasks.task.reminder_due",
}


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
        if "UUID" in hint:
            values[f.name] = uuid4()
        elif "datetime" in hint:
            values[f.name] = NOW + timedelta(hours=2)
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


def test_a_review_is_published_with_owner_and_tasker_named_as_the_contract_names_them() -> None:
    event = sample(events.ReviewCreated)
    assert isinstance(event, events.ReviewCreated)
    contract = contract_of(event)
    assert contract.owner_id == event.author_id  # type: ignore[attr-defined]
    assert contract.tasker_id == event.subject_id  # type: ignore[attr-defined]
