"""Messaging's unit of work: one transaction over conversations, messages, notifications,
the outbox and (for consumers) the inbox."""

from __future__ import annotations

from typing import Self

from chore_common.db import UnitOfWork
from chore_messaging.adapters.repository import (
    ConversationRepository,
    MessageRepository,
    NotificationRepository,
)


class MessagingUnitOfWork(UnitOfWork):
    conversations: ConversationRepository
    messages: MessageRepository
    notifications: NotificationRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.conversations = ConversationRepository(self.session)
        self.messages = MessageRepository(self.session)
        self.notifications = NotificationRepository(self.session)
        return self
