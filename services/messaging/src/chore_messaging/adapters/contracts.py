"""Domain events -> published contracts (chore_common.contracts.messaging): the one mapping
the outbox sees."""

from __future__ import annotations

from chore_common.contracts.messaging import MessageSentV1
from chore_common.contracts.registry import Contract
from chore_messaging.domain.events import DomainEvent, MessageSent


def to_contract(event: DomainEvent) -> Contract:
    match event:
        case MessageSent():
            return MessageSentV1(
                message_id=event.message_id,
                conversation_id=event.conversation_id,
                task_id=event.task_id,
                sender_id=event.sender_id,
                recipient_id=event.recipient_id,
                seq=event.seq,
                body_length=event.body_length,
                sent_at=event.sent_at,
            )
