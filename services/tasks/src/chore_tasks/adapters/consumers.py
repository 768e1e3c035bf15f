"""The durable consumer of the auth events tasks cares about: who people are (names) and
whether they may work (statuses).

One durable (`tasks-people`) shared by every replica, so each event is applied once; the
inbox row commits in the handler's transaction, with the withdrawals it makes (their events
go out through the outbox of that same transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chore_common.bus.consumer import Consumer, ConsumerSpec
from chore_common.clock import utcnow
from chore_common.contracts.auth import (
    ProfileUpdatedV1,
    StatusChangedV1,
    UserDeletedV1,
    UserRegisteredV1,
)
from chore_common.contracts.envelope import Envelope
from chore_common.uow import UnitOfWork
from chore_tasks.usecases import people

SPEC = ConsumerSpec(
    stream="AUTH",
    durable="tasks-people",
    subjects=(
        UserRegisteredV1.TYPE,
        ProfileUpdatedV1.TYPE,
        StatusChangedV1.TYPE,
        UserDeletedV1.TYPE,
    ),
)


async def _named(envelope: Envelope, event: Any, uow: UnitOfWork) -> None:
    """A sign-up or a profile edit: both carry the name."""
    await people.person_named(uow, event.user_id, event.name, utcnow())  # type: ignore[arg-type]


async def _status(envelope: Envelope, event: Any, uow: UnitOfWork) -> None:
    await people.status_changed(uow, event.user_id, event.status, utcnow())  # type: ignore[arg-type]


async def _deleted(envelope: Envelope, event: Any, uow: UnitOfWork) -> None:
    await people.person_deleted(uow, event.user_id, utcnow())  # type: ignore[arg-type]


def auth_consumer(
    js: Any, uow_factory: Callable[[], UnitOfWork], spec: ConsumerSpec = SPEC
) -> Consumer:
    consumer = Consumer(js, spec, uow_factory)
    consumer.on(UserRegisteredV1, _named)
    consumer.on(ProfileUpdatedV1, _named)
    consumer.on(StatusChangedV1, _status)
    consumer.on(UserDeletedV1, _deleted)
    return consumer
