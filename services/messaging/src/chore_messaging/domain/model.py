"""Conversations, messages and notifications, and the rules on them.

A conversation exists per (task, tasker): opened by the tasker's offer, between the task's
owner and that tasker. Only those two read or write it. It closes for writing when the task
is completed, cancelled or expired, and stays readable; reposting an expired task opens its
conversations again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from chore_common.errors import InvalidInput
from chore_messaging.domain.errors import ConversationClosed, ConversationNotFound, InvalidMessage

BODY_MAX = 4000  # characters
FRAME_MAX_BYTES = 16 * 1024  # a bigger WebSocket frame closes the socket (1009)
CLIENT_MSG_ID_MAX = 64
TITLE_MAX = 200
HISTORY_LIMIT_MAX = 500

_CONVERSATION_NS = uuid5(NAMESPACE_URL, "chore:messaging:conversation")


def conversation_id(task_id: UUID, tasker_id: UUID) -> UUID:
    """One id per (task, tasker), the same on every replica: opening twice opens one."""
    return uuid5(_CONVERSATION_NS, f"{task_id}:{tasker_id}")


@dataclass(frozen=True, slots=True)
class Conversation:
    id: UUID
    task_id: UUID
    owner_id: UUID
    tasker_id: UUID
    task_title: str
    is_open: bool
    last_seq: int
    created_at: datetime
    owner_read_seq: int = 0
    tasker_read_seq: int = 0
    # The inbox line: when the conversation last moved (its opening, then each message) and
    # what its last message said (domain/inbox.py).
    last_activity_at: datetime | None = None
    last_preview: str = ""
    last_sender_id: UUID | None = None
    task_status: str = "open"

    @property
    def activity_at(self) -> datetime:
        return self.last_activity_at or self.created_at

    def has(self, user_id: UUID) -> bool:
        return user_id == self.owner_id or user_id == self.tasker_id

    def peer_of(self, user_id: UUID) -> UUID:
        return self.tasker_id if user_id == self.owner_id else self.owner_id

    def read_seq_of(self, user_id: UUID) -> int:
        return self.owner_read_seq if user_id == self.owner_id else self.tasker_read_seq


def open_conversation(
    *, task_id: UUID, owner_id: UUID, tasker_id: UUID, title: str, now: datetime
) -> Conversation:
    if owner_id == tasker_id:
        raise InvalidInput("an owner cannot offer on their own task", code="same_user")
    return Conversation(
        id=conversation_id(task_id, tasker_id),
        task_id=task_id,
        owner_id=owner_id,
        tasker_id=tasker_id,
        task_title=title[:TITLE_MAX],
        is_open=True,
        last_seq=0,
        created_at=now,
        last_activity_at=now,
    )


def readable(conversation: Conversation | None, user_id: UUID) -> Conversation:
    """The conversation if `user_id` takes part in it; otherwise the same 404 as a missing one."""
    if conversation is None or not conversation.has(user_id):
        raise ConversationNotFound("no such conversation")
    return conversation


def writable(conversation: Conversation | None, user_id: UUID) -> Conversation:
    found = readable(conversation, user_id)
    if not found.is_open:
        raise ConversationClosed("the task is over: this conversation is read-only")
    return found


def check_body(body: str) -> str:
    if not body.strip():
        raise InvalidMessage("a message needs some text", code="empty_body")
    if len(body) > BODY_MAX:
        raise InvalidMessage(f"a message holds at most {BODY_MAX} characters", code="body_too_long")
    return body


def check_client_msg_id(client_msg_id: str) -> str:
    if not client_msg_id or len(client_msg_id) > CLIENT_MSG_ID_MAX:
        raise InvalidMessage(
            f"client_msg_id must be 1..{CLIENT_MSG_ID_MAX} characters", code="invalid_client_msg_id"
        )
    return client_msg_id


@dataclass(frozen=True, slots=True)
class Message:
    id: UUID
    conversation_id: UUID
    seq: int
    sender_id: UUID
    body: str
    client_msg_id: str
    sent_at: datetime


class NotificationKind(StrEnum):
    OFFER_CREATED = "offer_created"  # to the owner: someone offered on my task
    TASK_ASSIGNED = "task_assigned"  # to the assignee: I was picked
    TASK_STARTED = "task_started"  # to the owner
    TASK_DONE = "task_done"  # to the owner: confirm or dispute the work
    TASK_COMPLETED = "task_completed"  # to the assignee; to both when auto-confirmed
    TASK_DISPUTED = "task_disputed"  # to the assignee, with the owner's reason
    DISPUTE_RESOLVED = "dispute_resolved"  # to owner and assignee, with the admin's note
    TASK_CANCELLED = "task_cancelled"  # to the assignee and every tasker who offered
    TASK_EXPIRED = "task_expired"  # to the owner and every tasker who offered
    REMINDER_DUE = "reminder_due"  # to the assignee: due within the hour
    OFFER_DECLINED = "offer_declined"  # to the tasker: someone else got the task
    OFFER_UPDATED = "offer_updated"  # to the owner: a tasker changed their offer
    OFFER_WITHDRAWN = "offer_withdrawn"  # to the owner: a tasker took their offer back
    # To the other side (owner or former assignee) and taskers whose offers stand again.
    TASK_REOPENED = "task_reopened"
    TASK_REPOSTED = "task_reposted"  # to every tasker who offered: the task is open again
    TASK_EDITED = "task_edited"  # to every tasker with an open offer
    REVIEW_VISIBLE = "review_visible"  # to the reviewed user: a review of them is visible


@dataclass(frozen=True, slots=True)
class Notification:
    id: UUID
    user_id: UUID
    kind: NotificationKind
    task_id: UUID
    title: str
    created_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    read_at: datetime | None = None


def notification_id(event_id: UUID, user_id: UUID) -> UUID:
    """Deterministic per (event, recipient): a redelivered event cannot notify twice."""
    return uuid5(event_id, str(user_id))
