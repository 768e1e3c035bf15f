"""Messaging's unit of work: one transaction over conversations, messages, notifications,
the outbox and (for consumers) the inbox.

On SQLite the engine queues this process's transactions itself (chore_common.db
.sqlite_driver), so bursts of sends take turns instead of polling for the write lock."""

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
        self.conversations = ConversationRepository(self.conn)
        self.messages = MessageRepository(self.conn)
        self.notifications = NotificationRepository(self.conn)
        return self
