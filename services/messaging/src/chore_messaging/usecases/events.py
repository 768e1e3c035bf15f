"""What messaging does with the tasks service's events: open and close conversations,
notify the people each event concerns, and keep each person's record (a published review
adds to its subject's rating, a completed task to both sides' count).

Each handler runs inside the consumer's transaction (the inbox row commits with it) and
pushes its notifications to sockets only after that commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

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
from chore_messaging.domain import model
from chore_messaging.domain.model import Notification, NotificationKind
from chore_messaging.domain.people import counterpart
from chore_messaging.domain.preferences import Channel
from chore_messaging.usecases import preferences
from chore_messaging.usecases.ports import Fanout, MessagingUnitOfWork


class _AboutTask(Protocol):
    """What every tasks event gives a notification: the task and its title."""

    @property
    def task_id(self) -> UUID: ...

    @property
    def title(self) -> str: ...


async def _notify(
    uow: MessagingUnitOfWork,
    fanout: Fanout,
    event_id: UUID,
    now: datetime,
    event: _AboutTask,
    kind: NotificationKind,
    users: list[UUID],
    data: dict[str, Any] | None = None,
) -> None:
    made: list[Notification] = []
    for user_id in dict.fromkeys(users):  # each recipient once, in order
        if not await preferences.allows(uow, user_id, kind.value, Channel.IN_APP, now):
            continue  # turned off in the user's settings: not stored, not pushed
        # Who it is about, to this recipient: shown with their current name and record.
        other = counterpart(event, user_id)
        note = Notification(
            id=model.notification_id(event_id, user_id),
            user_id=user_id,
            kind=kind,
            task_id=event.task_id,
            title=event.title[: model.TITLE_MAX],
            created_at=now,
            data={**(data or {}), **({"person_id": str(other)} if other else {})},
        )
        if await uow.notifications.add(note):
            made.append(note)
    if made:

        async def push() -> None:
            await fanout.notify(made)

        uow.after_commit(push)


async def offer_created(
    uow: MessagingUnitOfWork, event_id: UUID, event: OfferCreatedV1, now: datetime, fanout: Fanout
) -> None:
    conversation = model.open_conversation(
        task_id=event.task_id,
        owner_id=event.owner_id,
        tasker_id=event.tasker_id,
        title=event.title,
        now=now,
    )
    await uow.conversations.add_if_absent(conversation)
    data = {
        "offer_id": str(event.offer_id),
        "tasker_id": str(event.tasker_id),
        "price_cents": event.price_cents,
        "conversation_id": str(conversation.id),
    }
    kind = NotificationKind.OFFER_CREATED
    await _notify(uow, fanout, event_id, now, event, kind, [event.owner_id], data)


async def task_assigned(
    uow: MessagingUnitOfWork, event_id: UUID, event: TaskAssignedV1, now: datetime, fanout: Fanout
) -> None:
    await uow.conversations.set_task_status(event.task_id, "assigned")
    conversation_id = model.conversation_id(event.task_id, event.assignee_id)
    data = {"offer_id": str(event.offer_id), "conversation_id": str(conversation_id)}
    kind = NotificationKind.TASK_ASSIGNED
    await _notify(uow, fanout, event_id, now, event, kind, [event.assignee_id], data)


async def task_started(
    uow: MessagingUnitOfWork, event_id: UUID, event: TaskStartedV1, now: datetime, fanout: Fanout
) -> None:
    await uow.conversations.set_task_status(event.task_id, "in_progress")
    data = {"assignee_id": str(event.assignee_id)}
    kind = NotificationKind.TASK_STARTED
    await _notify(uow, fanout, event_id, now, event, kind, [event.owner_id], data)


async def task_done(
    uow: MessagingUnitOfWork, event_id: UUID, event: TaskDoneV1, now: datetime, fanout: Fanout
) -> None:
    data = {
        "assignee_id": str(event.assignee_id),
        "auto_confirm_at": event.auto_confirm_at.isoformat(),
    }
    kind = NotificationKind.TASK_DONE
    await _notify(uow, fanout, event_id, now, event, kind, [event.owner_id], data)


async def task_completed(
    uow: MessagingUnitOfWork, event_id: UUID, event: TaskCompletedV1, now: datetime, fanout: Fanout
) -> None:
    await uow.conversations.set_task_status(event.task_id, "completed")
    await uow.conversations.close_task(event.task_id)
    # Both sides' record, as tasks counts it (domain/people.py).
    await uow.people.completed(event.owner_id, now)
    await uow.people.completed(event.assignee_id, now)
    # The owner who confirmed needs no telling; an admin's resolution is told as such.
    users = {
        "owner": [event.assignee_id],
        "auto": [event.owner_id, event.assignee_id],
        "admin": [],
    }[event.confirmed_by]
    data = {"confirmed_by": event.confirmed_by}
    kind = NotificationKind.TASK_COMPLETED
    await _notify(uow, fanout, event_id, now, event, kind, users, data)


async def task_disputed(
    uow: MessagingUnitOfWork, event_id: UUID, event: TaskDisputedV1, now: datetime, fanout: Fanout
) -> None:
    data = {"reason": event.reason}
    kind = NotificationKind.TASK_DISPUTED
    await _notify(uow, fanout, event_id, now, event, kind, [event.assignee_id], data)


async def dispute_resolved(
    uow: MessagingUnitOfWork,
    event_id: UUID,
    event: TaskDisputeResolvedV1,
    now: datetime,
    fanout: Fanout,
) -> None:
    await uow.conversations.close_task(event.task_id)
    data = {"outcome": event.outcome, "note": event.note}
    users = [event.owner_id, event.assignee_id]
    await _notify(uow, fanout, event_id, now, event, NotificationKind.DISPUTE_RESOLVED, users, data)


async def task_cancelled(
    uow: MessagingUnitOfWork, event_id: UUID, event: TaskCancelledV1, now: datetime, fanout: Fanout
) -> None:
    await uow.conversations.set_task_status(event.task_id, "cancelled")
    conversations = await uow.conversations.close_task(event.task_id)
    # Whoever was waiting on the task hears of it: the assignee and each tasker who offered.
    users = [c.tasker_id for c in conversations]
    if event.assignee_id is not None:
        users.insert(0, event.assignee_id)
    data = {"reason": event.reason} if event.reason else None
    kind = NotificationKind.TASK_CANCELLED
    await _notify(uow, fanout, event_id, now, event, kind, users, data)


async def task_expired(
    uow: MessagingUnitOfWork, event_id: UUID, event: TaskExpiredV1, now: datetime, fanout: Fanout
) -> None:
    await uow.conversations.set_task_status(event.task_id, "expired")
    conversations = await uow.conversations.close_task(event.task_id)
    users = [event.owner_id, *(c.tasker_id for c in conversations)]
    await _notify(uow, fanout, event_id, now, event, NotificationKind.TASK_EXPIRED, users)


async def reminder_due(
    uow: MessagingUnitOfWork,
    event_id: UUID,
    event: TaskReminderDueV1,
    now: datetime,
    fanout: Fanout,
) -> None:
    data = {"due_at": event.due_at.isoformat()}
    kind = NotificationKind.REMINDER_DUE
    await _notify(uow, fanout, event_id, now, event, kind, [event.assignee_id], data)


async def offer_declined(
    uow: MessagingUnitOfWork, event_id: UUID, event: OfferDeclinedV1, now: datetime, fanout: Fanout
) -> None:
    data = {"offer_id": str(event.offer_id)}
    kind = NotificationKind.OFFER_DECLINED
    await _notify(uow, fanout, event_id, now, event, kind, [event.tasker_id], data)


async def offer_updated(
    uow: MessagingUnitOfWork, event_id: UUID, event: OfferUpdatedV1, now: datetime, fanout: Fanout
) -> None:
    data = {
        "offer_id": str(event.offer_id),
        "tasker_id": str(event.tasker_id),
        "price_cents": event.price_cents,
    }
    kind = NotificationKind.OFFER_UPDATED
    await _notify(uow, fanout, event_id, now, event, kind, [event.owner_id], data)


async def offer_withdrawn(
    uow: MessagingUnitOfWork,
    event_id: UUID,
    event: OfferWithdrawnV1,
    now: datetime,
    fanout: Fanout,
) -> None:
    data = {"offer_id": str(event.offer_id), "tasker_id": str(event.tasker_id)}
    kind = NotificationKind.OFFER_WITHDRAWN
    await _notify(uow, fanout, event_id, now, event, kind, [event.owner_id], data)


async def task_reopened(
    uow: MessagingUnitOfWork, event_id: UUID, event: TaskReopenedV1, now: datetime, fanout: Fanout
) -> None:
    # The side that did not act hears of it, then each tasker whose offer stands again.
    other = event.owner_id if event.by == "assignee" else event.former_assignee_id
    users = [other, *event.reopened_offer_tasker_ids]
    data = {
        "by": event.by,
        "reason": event.reason,
        "former_assignee_id": str(event.former_assignee_id),
    }
    kind = NotificationKind.TASK_REOPENED
    await _notify(uow, fanout, event_id, now, event, kind, users, data)


async def task_reposted(
    uow: MessagingUnitOfWork, event_id: UUID, event: TaskRepostedV1, now: datetime, fanout: Fanout
) -> None:
    # Expiry closed the task's conversations; the task is back, and so are they.
    conversations = await uow.conversations.reopen_task(event.task_id)
    data = {"due_at": event.due_at.isoformat()}
    kind = NotificationKind.TASK_REPOSTED
    users = [c.tasker_id for c in conversations]
    await _notify(uow, fanout, event_id, now, event, kind, users, data)


async def task_edited(
    uow: MessagingUnitOfWork, event_id: UUID, event: TaskEditedV1, now: datetime, fanout: Fanout
) -> None:
    data = {"changes": sorted(event.changes)}
    kind = NotificationKind.TASK_EDITED
    await _notify(uow, fanout, event_id, now, event, kind, list(event.offerer_ids), data)


async def review_published(
    uow: MessagingUnitOfWork,
    event_id: UUID,
    event: ReviewPublishedV1,
    now: datetime,
    fanout: Fanout,
) -> None:
    await uow.people.rated(event.subject_id, event.rating, now)
    data: dict[str, Any] = {
        "review_id": str(event.review_id),
        "author_id": str(event.author_id),
        "rating": event.rating,
    }
    kind = NotificationKind.REVIEW_VISIBLE
    await _notify(uow, fanout, event_id, now, event, kind, [event.subject_id], data)
