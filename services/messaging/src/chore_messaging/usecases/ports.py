"""What messaging's use cases need from storage and from the fan-out, as protocols.

`adapters/` implements them on SQLAlchemy and NATS. Repositories never commit; the use
case commits once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, Self
from uuid import UUID

from chore_common.contracts.registry import Contract
from chore_common.paging import Page, PageKey
from chore_messaging.domain.model import Conversation, Message, Notification


class ConversationRepository(Protocol):
    async def get(self, conversation_id: UUID) -> Conversation | None: ...

    async def add_if_absent(self, conversation: Conversation) -> bool:
        """Store it unless one with its id exists; True when this call created it."""
        ...

    async def take_seq(self, conversation_id: UUID, user_id: UUID) -> Conversation | None:
        """Add one to `last_seq` of a conversation `user_id` takes part in, and return it.

        Locks the conversation until the transaction ends (PostgreSQL: the row; SQLite: the
        database), so concurrent senders on any replica get consecutive numbers, and a
        rolled-back transaction gives its number back: no gaps. None when not a participant.
        """
        ...

    async def close_task(self, task_id: UUID) -> list[Conversation]:
        """Close every open conversation of the task; returns all of the task's."""
        ...

    async def of_task(self, task_id: UUID) -> list[Conversation]: ...

    async def list_for(
        self, user_id: UUID, *, limit: int, after: PageKey | None
    ) -> Page[Conversation]:
        """The user's conversations, newest first."""
        ...

    async def mark_read(self, conversation: Conversation, user_id: UUID, seq: int) -> None: ...


class MessageRepository(Protocol):
    async def add(self, message: Message) -> bool:
        """Store it; False (and nothing stored) if its sender already used its client_msg_id
        in that conversation."""
        ...

    async def by_client_id(
        self, conversation_id: UUID, sender_id: UUID, client_msg_id: str
    ) -> Message | None: ...

    async def after(self, conversation_id: UUID, after_seq: int, limit: int) -> list[Message]:
        """Messages with seq > after_seq, ascending, at most `limit`."""
        ...


class NotificationRepository(Protocol):
    async def add(self, notification: Notification) -> bool:
        """Store it; False if that id exists already (a repeated event)."""
        ...

    async def list_for(
        self, user_id: UUID, *, limit: int, after: PageKey | None, unread_only: bool
    ) -> Page[Notification]:
        """The user's notifications, newest first."""
        ...

    async def mark_read(
        self, notification_id: UUID, user_id: UUID, now: datetime
    ) -> Notification | None: ...


class Outbox(Protocol):
    def add(self, event: Contract) -> object: ...


AfterCommit = Callable[[], Awaitable[None]]


class MessagingUnitOfWork(Protocol):
    # Read-only members, so the SQL unit of work's concrete repositories satisfy them.
    @property
    def conversations(self) -> ConversationRepository: ...
    @property
    def messages(self) -> MessageRepository: ...
    @property
    def notifications(self) -> NotificationRepository: ...
    @property
    def outbox(self) -> Outbox: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
    def after_commit(self, callback: AfterCommit) -> None: ...


class Fanout(Protocol):
    """Delivers to the sockets of every replica, after the commit."""

    async def message_stored(self, conversation: Conversation, message: Message) -> None: ...

    async def notify(self, notifications: list[Notification]) -> None: ...
