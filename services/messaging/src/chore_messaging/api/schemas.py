"""Request and response bodies of the /messaging REST mirror."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from chore_common.http.fields import Seq, Text
from chore_common.http.pagination import PageQuery
from chore_common.http.validation import OutModel, StrictModel
from chore_messaging.domain import inbox
from chore_messaging.domain.model import (
    CLIENT_MSG_ID_MAX,
    HISTORY_LIMIT_MAX,
    Conversation,
)
from chore_messaging.domain.people import Person, person_of


class PeerOut(BaseModel):
    """The other person, from messaging's own read model (no call to another service)."""

    id: UUID
    name: str | None = Field(
        description='their name from auth\'s events; "Deleted user" once the account is '
        "deleted; null until messaging heard of them"
    )
    rating_mean: float | None = Field(None, description="mean of their published reviews")
    rating_count: int = Field(0, description="how many published reviews they received")
    completed_count: int = Field(0, description="completed tasks they took part in")

    @classmethod
    def of(cls, person: Person) -> PeerOut:
        return cls(
            id=person.id,
            name=person.name,
            rating_mean=person.rating_mean,
            rating_count=person.rating_count,
            completed_count=person.completed_count,
        )


class ConversationOut(BaseModel):
    id: UUID
    task_id: UUID
    task_title: str
    owner_id: UUID
    tasker_id: UUID
    open: bool = Field(description="false once the task is over: read-only")
    task_status: str = Field(
        description="the task's status as messaging last heard it: open, assigned, "
        "in_progress, completed, cancelled, expired (closed: before messaging tracked it)"
    )
    last_seq: int
    read_seq: int = Field(description="the last seq the caller marked read")
    unread: int = Field(description="messages from the other participant after read_seq")
    last_message_at: datetime = Field(
        description="the last message's time; the opening time when there is none (the order)"
    )
    preview: str = Field(description="the last message's first 120 characters ('' if none)")
    last_sender_id: UUID | None
    peer: PeerOut = Field(description="the other participant")

    @classmethod
    def of(cls, c: Conversation, viewer: UUID, peer: Person | None = None) -> ConversationOut:
        read_seq = c.read_seq_of(viewer)
        return cls(
            id=c.id,
            task_id=c.task_id,
            task_title=c.task_title,
            owner_id=c.owner_id,
            tasker_id=c.tasker_id,
            open=c.is_open,
            task_status=c.task_status,
            last_seq=c.last_seq,
            read_seq=read_seq,
            unread=inbox.unread(c.last_seq, read_seq),
            last_message_at=c.activity_at,
            preview=c.last_preview,
            last_sender_id=c.last_sender_id,
            peer=PeerOut.of(peer or Person(c.peer_of(viewer))),
        )


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None = None


class NotificationQuery(PageQuery):
    unread: bool = Field(False, description="only notifications not yet marked read")


class HistoryQuery(StrictModel):
    after_seq: Seq = 0
    limit: int = Field(100, ge=1, le=HISTORY_LIMIT_MAX)


class MessageOut(OutModel):
    id: UUID
    conversation_id: UUID
    seq: int
    sender_id: UUID
    body: str
    client_msg_id: str
    sent_at: datetime


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_after_seq: int | None = Field(
        None, description="pass as after_seq for the next page; null at the end"
    )


class MessageIn(StrictModel):
    body: Text = Field(description="1..4000 characters")
    client_msg_id: Text = Field(min_length=1, max_length=CLIENT_MSG_ID_MAX)


class NotificationOut(OutModel):
    id: UUID
    kind: str
    task_id: UUID
    title: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None
    person: PeerOut | None = Field(
        None, description="the other person it is about (null: nobody, e.g. an expiry)"
    )

    def with_person(self, people: dict[UUID, Person], user_id: UUID) -> NotificationOut:
        other = person_of(self.data, user_id)
        if other is None:
            return self
        return self.model_copy(update={"person": PeerOut.of(people.get(other, Person(other)))})


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None = None


class UnreadItem(BaseModel):
    conversation_id: UUID
    unread: int


class UnreadOut(BaseModel):
    total: int
    conversations: list[UnreadItem] = Field(description="only those with unread messages")


class ReadIn(StrictModel):
    seq: Seq = Field(description="read up to here; a lower mark than the current one is ignored")


class ReadOut(BaseModel):
    conversation_id: UUID
    read_seq: int
    unread: int


class ExportConversationOut(OutModel):
    id: UUID
    task_id: UUID
    task_title: str
    owner_id: UUID
    tasker_id: UUID
    is_open: bool
    created_at: datetime


class ExportMailOut(OutModel):
    kind: str
    to_email: str
    subject: str
    state: str = Field(description="queued, sent or failed")
    created_at: datetime
    sent_at: datetime | None


class MessagingExportOut(BaseModel):
    """What messaging holds about the caller: `GET /messaging/me/export`, one part of the
    platform export the gateway assembles (docs/auth.md)."""

    service: Literal["messaging"] = "messaging"
    exported_at: datetime
    user_id: UUID
    conversations: list[ExportConversationOut] = Field(description="oldest first")
    messages: list[MessageOut] = Field(
        description="every message of those conversations, sent and received, by conversation"
        " then seq"
    )
    notifications: list[NotificationOut]
    settings: dict[str, Any] = Field(description="as GET /messaging/settings answers")
    mail_address: str | None = Field(description="where the mail notifier sends the user's mail")
    mails: list[ExportMailOut] = Field(
        description="mail sent or queued to the user, without bodies (a reset mail's holds a token)"
    )


class ReportIn(StrictModel):
    reason: Text = Field(min_length=1, max_length=500, description="what is wrong with it")


class ReportOut(OutModel):
    id: UUID
    target: Literal["message"] = "message"
    conversation_id: UUID
    message_id: UUID
    reporter_id: UUID
    subject_id: UUID = Field(description="who sent the message")
    reason: str
    content: str = Field(description="the message's body, as reported")
    created_at: datetime
    status: Literal["open", "dismissed", "resolved"]
    note: str | None
    closed_by: UUID | None
    closed_at: datetime | None


class ReportQuery(PageQuery):
    state: Literal["open", "closed"] = "open"


class ReportPage(BaseModel):
    items: list[ReportOut]
    next_cursor: str | None = None
