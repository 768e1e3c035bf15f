"""Messaging's unit of work: one transaction over conversations, messages, notifications,
people, the outbox and (for consumers) the inbox."""

from __future__ import annotations

import asyncio
from typing import Any, Self

from chore_common.uow import UnitOfWork
from chore_messaging.adapters.contracts import to_contract
from chore_messaging.adapters.exports import UserDataRepository
from chore_messaging.adapters.reports import ReportRepository
from chore_messaging.adapters.repository import (
    ConversationRepository,
    MessageRepository,
    NotificationRepository,
    PeopleRepository,
    PreferencesRepository,
)
from chore_messaging.domain.events import DomainEvent


class MessagingUnitOfWork(UnitOfWork):
    """`writer_lock` (SQLite only): every SQLite transaction takes the database's write lock
    at BEGIN, and waiters poll for it (busy timeout) unfairly; queueing this process's
    transactions on an asyncio lock first leaves only the other processes to poll against,
    so bursts of sends do not time out with "database is locked"."""

    conversations: ConversationRepository
    messages: MessageRepository
    notifications: NotificationRepository
    preferences: PreferencesRepository
    user_data: UserDataRepository
    reports: ReportRepository
    people: PeopleRepository

    def __init__(self, *args: Any, writer_lock: asyncio.Lock | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._writer_lock = writer_lock

    async def __aenter__(self) -> Self:
        if self._writer_lock is not None:
            await self._writer_lock.acquire()
        try:
            await super().__aenter__()
        except BaseException:
            if self._writer_lock is not None:
                self._writer_lock.release()
            raise
        self.conversations = ConversationRepository(self.conn)
        self.messages = MessageRepository(self.conn)
        self.notifications = NotificationRepository(self.conn)
        self.preferences = PreferencesRepository(self.conn)
        self.user_data = UserDataRepository(self.conn)
        self.reports = ReportRepository(self.conn)
        self.people = PeopleRepository(self.conn)
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await super().__aexit__(*exc)
        finally:
            if self._writer_lock is not None:
                self._writer_lock.release()

    def record(self, event: DomainEvent) -> None:
        """Publish `event` once this transaction commits (outbox row, same transaction)."""
        self.outbox.add(to_contract(event))
