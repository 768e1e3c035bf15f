"""Domain event -> the versioned contract it is published as (`chore_common.contracts.tasks`).

The one place the domain's facts become the published language; adding a domain event
without a mapper here fails `test_every_domain_event_maps_to_its_contract`.
"""

from __future__ import annotations

from dataclasses import fields

from chore_common.contracts.registry import Contract
from chore_common.contracts.tasks import (
    OfferCreatedV1,
    OfferDeclinedV1,
    OfferUpdatedV1,
    OfferWithdrawnV1,
    ReviewCreatedV1,
    ReviewPublishedV1,
    TaskAssignedV1,
    TaskCancelledV1,
    TaskCompletedV1,
    TaskCreatedV1,
    TaskDisputedV1,
    TaskDisputeResolvedV1,
    TaskDoneV1,
    TaskEditedV1,
    TaskExpiredV1,
    TaskReminderDueV1,
    TaskReopenedV1,
    TaskRepostedV1,
    TaskStartedV1,
)
from chore_tasks.domain.events import (
    DomainEvent,
    OfferCreated,
    OfferDeclined,
    OfferUpdated,
    OfferWithdrawn,
    ReminderDue,
    ReviewCreated,
    ReviewPublished,
    TaskAssigned,
    TaskCancelled,
    TaskCompleted,
    TaskCreated,
    TaskDisputed,
    TaskDisputeResolved,
    TaskDone,
    TaskEdited,
    TaskExpired,
    TaskReopened,
    TaskReposted,
    TaskStarted,
)


def contract_of(event: DomainEvent) -> Contract:
    mapping = _MAPPINGS.get(type(event))
    if mapping is None:
        raise TypeError(f"no contract for {type(event).__name__}")
    contract, pairs = mapping
    return contract(**{name: getattr(event, source) for name, source in pairs})


def _mapping(
    event: type[DomainEvent], contract: type[Contract], **renamed: str
) -> tuple[type[Contract], tuple[tuple[str, str], ...]]:
    """Each contract field from the event field of the same name, unless `renamed` names
    another; a contract field the event lacks keeps its default (`status`)."""
    carried = {f.name for f in fields(event)}
    pairs = tuple(
        (name, renamed.get(name, name))
        for name in contract.model_fields
        if renamed.get(name, name) in carried
    )
    missing = [
        n for n, f in contract.model_fields.items() if f.is_required() and n not in dict(pairs)
    ]
    if missing:
        raise TypeError(f"{event.__name__} gives {contract.__name__} no {', '.join(missing)}")
    return contract, pairs


# By exact class: events are final dataclasses, and one dict lookup replaces a chain of
# isinstance checks on every write. The field pairs are worked out once, at import.
_MAPPINGS = {
    TaskCreated: _mapping(TaskCreated, TaskCreatedV1, created_at="occurred_at"),
    OfferCreated: _mapping(OfferCreated, OfferCreatedV1, created_at="occurred_at"),
    TaskAssigned: _mapping(TaskAssigned, TaskAssignedV1, assigned_at="occurred_at"),
    TaskStarted: _mapping(TaskStarted, TaskStartedV1, started_at="occurred_at"),
    TaskDone: _mapping(TaskDone, TaskDoneV1, done_at="occurred_at"),
    TaskCompleted: _mapping(TaskCompleted, TaskCompletedV1, completed_at="occurred_at"),
    TaskDisputed: _mapping(TaskDisputed, TaskDisputedV1, disputed_at="occurred_at"),
    TaskDisputeResolved: _mapping(
        TaskDisputeResolved, TaskDisputeResolvedV1, resolved_at="occurred_at"
    ),
    TaskCancelled: _mapping(TaskCancelled, TaskCancelledV1, cancelled_at="occurred_at"),
    TaskExpired: _mapping(TaskExpired, TaskExpiredV1, expired_at="occurred_at"),
    ReviewCreated: _mapping(ReviewCreated, ReviewCreatedV1, created_at="occurred_at"),
    ReviewPublished: _mapping(ReviewPublished, ReviewPublishedV1, published_at="occurred_at"),
    ReminderDue: _mapping(ReminderDue, TaskReminderDueV1),
    OfferUpdated: _mapping(OfferUpdated, OfferUpdatedV1, updated_at="occurred_at"),
    OfferWithdrawn: _mapping(OfferWithdrawn, OfferWithdrawnV1, withdrawn_at="occurred_at"),
    OfferDeclined: _mapping(OfferDeclined, OfferDeclinedV1, declined_at="occurred_at"),
    TaskReopened: _mapping(TaskReopened, TaskReopenedV1, reopened_at="occurred_at"),
    TaskReposted: _mapping(TaskReposted, TaskRepostedV1, reposted_at="occurred_at"),
    TaskEdited: _mapping(TaskEdited, TaskEditedV1, edited_at="occurred_at"),
}
