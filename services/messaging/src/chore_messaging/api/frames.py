"""The WebSocket protocol: every frame a client may send and every frame the server sends.

Client frames are validated by pydantic (a discriminated union on `type`, unknown fields
refused). Server frames are encoded once per message and the same text goes to every
socket that should see it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from chore_common.http.fields import Seq, Text
from chore_messaging.domain import inbox
from chore_messaging.domain.model import CLIENT_MSG_ID_MAX, Conversation, Message, Notification


class _ClientFrame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Subscribe(_ClientFrame):
    """Deliver this conversation's messages; with `since_seq`, first every message after it."""

    type: Literal["subscribe"]
    conversation_id: UUID
    since_seq: Seq | None = None  # a BIGINT column: a larger number is no seq


class Unsubscribe(_ClientFrame):
    type: Literal["unsubscribe"]
    conversation_id: UUID


class Send(_ClientFrame):
    type: Literal["send"]
    conversation_id: UUID
    body: Text  # its length is checked by the domain, for its own error code
    client_msg_id: Text = Field(min_length=1, max_length=CLIENT_MSG_ID_MAX)


class Read(_ClientFrame):
    type: Literal["read"]
    conversation_id: UUID
    seq: Seq


class Ping(_ClientFrame):
    type: Literal["ping"]


class Typing(_ClientFrame):
    """The user is typing in this conversation: the other participant hears it (throttled)."""

    type: Literal["typing"]
    conversation_id: UUID


ClientFrame = Annotated[
    Subscribe | Unsubscribe | Send | Read | Ping | Typing, Field(discriminator="type")
]
CLIENT_FRAME: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
CLIENT_TYPES = frozenset({"subscribe", "unsubscribe", "send", "read", "ping", "typing"})


class FrameError(Exception):
    """A client frame that cannot be used; answered with an `error` frame."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def parse_client_frame(text: str) -> ClientFrame:
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise FrameError("invalid_json", "a frame is one JSON object") from None
    if not isinstance(raw, dict):
        raise FrameError("invalid_json", "a frame is one JSON object")
    kind = raw.get("type")
    if kind not in CLIENT_TYPES:
        raise FrameError("unknown_type", f"unknown frame type {str(kind)[:40]!r}")
    try:
        return CLIENT_FRAME.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "frame"
        raise FrameError("invalid_frame", f"{where}: {first['msg']}") from None


# -- server -> client -----------------------------------------------------------------------


class MessageFrame(BaseModel):
    type: Literal["message"] = "message"
    conversation_id: UUID
    seq: int
    id: UUID
    sender_id: UUID
    body: str
    sent_at: datetime


class AckFrame(BaseModel):
    type: Literal["ack"] = "ack"
    client_msg_id: str
    seq: int
    conversation_id: UUID
    id: UUID
    duplicate: bool = False


class SubscribedFrame(BaseModel):
    """After a subscribe's replay: everything up to `last_seq` has been sent, live from here."""

    type: Literal["subscribed"] = "subscribed"
    conversation_id: UUID
    last_seq: int


class NotificationFrame(BaseModel):
    type: Literal["notification"] = "notification"
    id: UUID
    kind: str
    task_id: UUID
    title: str
    data: dict[str, Any]
    created_at: datetime


class ErrorFrame(BaseModel):
    type: Literal["error"] = "error"
    code: str
    detail: str
    conversation_id: UUID | None = None
    client_msg_id: str | None = None


class ConversationUpdatedFrame(BaseModel):
    """A conversation's inbox line changed (a new message, or the viewer read it): move it
    to the top, show its preview and the viewer's unread count."""

    type: Literal["conversation_updated"] = "conversation_updated"
    conversation_id: UUID
    last_seq: int
    last_message_at: datetime
    preview: str
    last_sender_id: UUID | None
    unread: int
    read_seq: int


class ReadFrame(BaseModel):
    """A read receipt: `user_id` has read `conversation_id` up to `seq`."""

    type: Literal["read"] = "read"
    conversation_id: UUID
    user_id: UUID
    seq: int


class TypingFrame(BaseModel):
    type: Literal["typing"] = "typing"
    conversation_id: UUID
    user_id: UUID


class PresenceFrame(BaseModel):
    type: Literal["presence"] = "presence"
    user_id: UUID
    status: Literal["online", "offline"]
    last_seen: datetime | None


PONG = b'{"type":"pong"}'


def encode(frame: BaseModel) -> bytes:
    """A server frame as the UTF-8 bytes of a text frame: encoded once, sent to every socket."""
    return frame.__pydantic_serializer__.to_json(frame)


def message_frame(message: Message) -> bytes:
    return encode(
        MessageFrame(
            conversation_id=message.conversation_id,
            seq=message.seq,
            id=message.id,
            sender_id=message.sender_id,
            body=message.body,
            sent_at=message.sent_at,
        )
    )


def notification_frame(note: Notification) -> bytes:
    return encode(
        NotificationFrame(
            id=note.id,
            kind=note.kind.value,
            task_id=note.task_id,
            title=note.title,
            data=note.data,
            created_at=note.created_at,
        )
    )


def error_frame(
    code: str,
    detail: str,
    *,
    conversation_id: UUID | None = None,
    client_msg_id: str | None = None,
) -> bytes:
    return (
        ErrorFrame(
            code=code, detail=detail, conversation_id=conversation_id, client_msg_id=client_msg_id
        )
        .model_dump_json(exclude_none=True)
        .encode()
    )


def conversation_updated_frame(conversation: Conversation, viewer: UUID) -> bytes:
    read_seq = conversation.read_seq_of(viewer)
    return encode(
        ConversationUpdatedFrame(
            conversation_id=conversation.id,
            last_seq=conversation.last_seq,
            last_message_at=conversation.activity_at,
            preview=conversation.last_preview,
            last_sender_id=conversation.last_sender_id,
            unread=inbox.unread(conversation.last_seq, read_seq),
            read_seq=read_seq,
        )
    )


def read_frame(conversation_id: UUID, user_id: UUID, seq: int) -> bytes:
    return encode(ReadFrame(conversation_id=conversation_id, user_id=user_id, seq=seq))


def typing_frame(conversation_id: UUID, user_id: UUID) -> bytes:
    return encode(TypingFrame(conversation_id=conversation_id, user_id=user_id))


def presence_frame(user_id: UUID, online: bool, last_seen: float | None) -> bytes:
    """`last_seen`: wall-clock seconds the user was last known online (None: never)."""
    seen = None if last_seen is None else datetime.fromtimestamp(last_seen, UTC)
    status: Literal["online", "offline"] = "online" if online else "offline"
    return encode(PresenceFrame(user_id=user_id, status=status, last_seen=seen))
