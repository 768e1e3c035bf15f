"""The durable consumers of other services' events: `messaging` on the TASKS stream, and
`messaging-people` on the AUTH stream (names, and account deletion).

One durable (`messaging`) shared by every replica, so each event is applied once; the inbox
row commits in the handler's transaction. Types not listed here are acknowledged and
ignored: task created (offers carry the owner) and review created (the review is still
hidden; `tasks.review.published` says when it may be shown).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from chore_common.bus.consumer import Consumer, ConsumerSpec, Handler
from chore_common.clock import utcnow
from chore_common.contracts.auth import ProfileUpdatedV1, UserDeletedV1, UserRegisteredV1
from chore_common.contracts.envelope import Envelope
from chore_common.contracts.registry import Contract
from chore_common.contracts.tasks import (
    OfferCreatedV1,
    OfferDeclinedV1,
    OfferUpdatedV1,
    OfferWithdrawnV1,
    ReviewPublishedV1,
    TaskAssignedV1,
    TaskCancelledV1,
    TaskCompletedV1,
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
from chore_common.uow import UnitOfWork
from chore_messaging.usecases import events, people
from chore_messaging.usecases.ports import Fanout, MessagingUnitOfWork

SPEC = ConsumerSpec(
    stream="TASKS",
    durable="messaging",
    subjects=("tasks.offer.>", "tasks.task.>", "tasks.review.published"),
)

PEOPLE_SPEC = ConsumerSpec(
    stream="AUTH",
    durable="messaging-people",
    subjects=(UserRegisteredV1.TYPE, ProfileUpdatedV1.TYPE, UserDeletedV1.TYPE),
)

C = TypeVar("C", bound=Contract)
UseCase = Callable[[MessagingUnitOfWork, Any, Any, datetime, Fanout], Awaitable[None]]


def _handler(use_case: UseCase, fanout: Fanout) -> Handler:
    async def handle(envelope: Envelope, payload: Any, uow: UnitOfWork) -> None:
        await use_case(uow, envelope.id, payload, utcnow(), fanout)  # type: ignore[arg-type]

    return handle


def tasks_consumer(
    js: Any, uow_factory: Callable[[], UnitOfWork], fanout: Fanout, spec: ConsumerSpec = SPEC
) -> Consumer:
    consumer = Consumer(js, spec, uow_factory)
    routes: list[tuple[type[Contract], UseCase]] = [
        (OfferCreatedV1, events.offer_created),
        (TaskAssignedV1, events.task_assigned),
        (TaskStartedV1, events.task_started),
        (TaskDoneV1, events.task_done),
        (TaskCompletedV1, events.task_completed),
        (TaskDisputedV1, events.task_disputed),
        (TaskDisputeResolvedV1, events.dispute_resolved),
        (TaskCancelledV1, events.task_cancelled),
        (TaskExpiredV1, events.task_expired),
        (TaskReminderDueV1, events.reminder_due),
        (OfferDeclinedV1, events.offer_declined),
        (OfferUpdatedV1, events.offer_updated),
        (OfferWithdrawnV1, events.offer_withdrawn),
        (TaskReopenedV1, events.task_reopened),
        (TaskRepostedV1, events.task_reposted),
        (TaskEditedV1, events.task_edited),
        (ReviewPublishedV1, events.review_published),
    ]
    for contract, use_case in routes:
        consumer.on(contract, _handler(use_case, fanout))
    return consumer


async def _named(envelope: Envelope, event: Any, uow: UnitOfWork) -> None:
    await people.person_named(uow, event.user_id, event.name, utcnow())  # type: ignore[arg-type]


async def _deleted(envelope: Envelope, event: Any, uow: UnitOfWork) -> None:
    await people.person_deleted(uow, event.user_id, utcnow())  # type: ignore[arg-type]


def people_consumer(
    js: Any, uow_factory: Callable[[], UnitOfWork], spec: ConsumerSpec = PEOPLE_SPEC
) -> Consumer:
    """Names from sign-ups and profile edits; "Deleted user" and the user's data dropped on
    deletion. Its own durable, so a slow tasks backlog never delays a name."""
    consumer = Consumer(js, spec, uow_factory)
    consumer.on(UserRegisteredV1, _named)
    consumer.on(ProfileUpdatedV1, _named)
    consumer.on(UserDeletedV1, _deleted)
    return consumer
