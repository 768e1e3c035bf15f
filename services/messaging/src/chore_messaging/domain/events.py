"""What happened, in domain words; adapters/contracts.py turns these into published contracts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class MessageSent:
    """A message was stored in a conversation (the body stays in messaging)."""

    message_id: UUID
    conversation_id: UUID
    task_id: UUID
    sender_id: UUID
    recipient_id: UUID
    seq: int
    body_length: int
    sent_at: datetime


DomainEvent = MessageSent
