"""The envelope and payload models: parsing rules every consumer relies on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import ValidationError

from chore_common.contracts import Envelope, contract_for, registered
from chore_common.contracts.auth import SessionRevokedV1
from chore_common.contracts.tasks import TaskAssignedV1, TaskCreatedV1

SPEC_EVENTS = {
    "auth.user.registered",
    "auth.session.revoked",
    # issue 25: the address book and the mails (the mail notifier consumes them)
    "auth.user.contact_changed",
    "auth.user.email_verification_requested",
    "auth.user.password_reset_requested",
    "auth.user.deleted",
    "tasks.task.created",
    "tasks.offer.created",
    "tasks.task.assigned",
    "tasks.task.started",
    "tasks.task.completed",
    "tasks.task.cancelled",
    "tasks.task.expired",
    "tasks.review.created",
    "tasks.task.reminder_due",
    "tasks.offer.declined",  # issue 24 (offers)
    "tasks.task.disputed",  # issue 24 (completion)
    "messaging.message.sent",
}

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def created() -> TaskCreatedV1:
    return TaskCreatedV1(
        task_id=uuid4(),
        owner_id=uuid4(),
        title="Mow the lawn",
        category="garden",
        budget_cents=4500,
        version=1,
        created_at=NOW,
    )


def test_every_event_the_spec_names_has_a_registered_v1_contract() -> None:
    assert {c.TYPE for c in registered()} == SPEC_EVENTS
    for event_type in SPEC_EVENTS:
        assert contract_for(event_type, 1) is not None


def test_an_envelope_survives_the_wire_and_yields_the_same_payload() -> None:
    event = created()
    envelope = Envelope.of(event, "tasks")
    again = Envelope.from_bytes(envelope.to_bytes())
    assert again == envelope
    assert again.type == "tasks.task.created"
    assert again.version == 1
    assert again.payload(TaskCreatedV1) == event


def test_unknown_envelope_and_payload_fields_are_ignored() -> None:
    envelope = Envelope.of(created(), "tasks")
    raw = json.loads(envelope.to_bytes())
    raw["partition"] = 7  # a newer producer's envelope field
    raw["data"]["priority"] = "high"  # an additive payload change, same major version
    parsed = Envelope.model_validate(raw)
    assert parsed.id == envelope.id
    assert parsed.payload(TaskCreatedV1).title == "Mow the lawn"


def test_an_envelope_without_a_timezone_or_version_is_rejected() -> None:
    raw = json.loads(Envelope.of(created(), "tasks").to_bytes())
    with pytest.raises(ValidationError):
        Envelope.model_validate({**raw, "occurred_at": "2026-11-23T09:00:00"})
    with pytest.raises(ValidationError):
        Envelope.model_validate({**raw, "version": 0})


def test_payload_validation_rejects_a_missing_required_field() -> None:
    envelope = Envelope.of(created(), "tasks")
    with pytest.raises(ValidationError):
        envelope.payload(TaskAssignedV1)


def test_session_revoked_carries_who_which_when_and_why() -> None:
    event = SessionRevokedV1(
        user_id=uuid4(), session_id=uuid4(), revoked_at=NOW, reason="refresh_reuse"
    )
    data = Envelope.of(event, "auth").data
    assert set(data) == {"user_id", "session_id", "revoked_at", "reason"}
