"""Request and response bodies of the /messaging REST mirror."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from chore_common.http.fields import Seq, Text
from chore_common.http.pagination import PageQuery
from chore_common.http.validation import OutModel, StrictModel
from chore_messaging.domain.model import (
    CLIENT_MSG_ID_MAX,
    HISTORY_LIMIT_MAX,
    Conversation,
)


class ConversationOut(BaseModel):
    id: UUID
    task_id: UUID
    task_title: str
    owner_id: UUID
    tasker_id: UUID
    open: bool = Field(description="false once the task is over: read-only")
    last_seq: int
    read_seq: int = Field(description="the last seq the caller marked read")

    @classmethod
    def of(cls, c: Conversation, viewer: UUID) -> ConversationOut:
        return cls(
            id=c.id,
            task_id=c.task_id,
            task_title=c.task_title,
            owner_id=c.owner_id,
            tasker_id=c.tasker_id,
            open=c.is_open,
            last_seq=c.last_seq,
            read_seq=c.read_seq_of(viewer),
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


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None = None
