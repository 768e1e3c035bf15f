"""Events the messaging service publishes (stream MESSAGING, subjects `messaging.>`)."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from chore_common.contracts.registry import Contract, register


@register
class MessageSentV1(Contract):
    """A chat message was stored. The body stays in messaging: the bus carries no chat text."""

    TYPE: ClassVar = "messaging.message.sent"
    VERSION: ClassVar = 1

    message_id: UUID
    conversation_id: UUID
    task_id: UUID
    sender_id: UUID
    recipient_id: UUID
    seq: int = Field(ge=1)
    body_length: int = Field(ge=0)
    sent_at: AwareDatetime
