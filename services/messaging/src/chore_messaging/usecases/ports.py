"""What messaging's use cases and api need from storage, sockets and the fan-out, as protocols.

`adapters/` implements them on SQLAlchemy, aiohttp's WebSockets and NATS; `bootstrap.py`
hands them to the app through `keys.py`. Repositories never commit; the use case commits once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar
from uuid import UUID

from chore_common.paging import Page, PageKey
from chore_common.ports import UnitOfWork
from chore_messaging.domain.events import DomainEvent
from chore_messaging.domain.model import Conversation, Message, Notification
from chore_messaging.domain.people import Person
from chore_messaging.domain.preferences import Preferences
from chore_messaging.domain.reports import Report

W_contra = TypeVar("W_contra", contravariant=True)


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

    async def reopen_task(self, task_id: UUID) -> list[Conversation]:
        """Open the task's closed conversations for writing again; returns them all."""
        ...

    async def of_task(self, task_id: UUID) -> list[Conversation]: ...

    async def list_for(
        self, user_id: UUID, *, limit: int, after: PageKey | None
    ) -> Page[Conversation]:
        """The user's conversations, newest first."""
        ...

    async def mark_read(self, conversation: Conversation, user_id: UUID, seq: int) -> None: ...

    async def record_message(self, conversation: Conversation, message: Message) -> None:
        """Make `message` the conversation's inbox line; its sender has read up to it."""
        ...

    async def unread_for(self, user_id: UUID) -> list[tuple[UUID, int]]:
        """(conversation id, unread count) of the user's conversations with any unread."""
        ...

    async def set_task_status(self, task_id: UUID, status: str) -> None: ...


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

    async def forget_user(self, user_id: UUID) -> None:
        """Drop every notification of the user (their account was deleted)."""
        ...


class PreferencesRepository(Protocol):
    async def get(self, user_id: UUID) -> Preferences:
        """The user's notification settings (the defaults when none were saved)."""
        ...

    async def put(self, user_id: UUID, prefs: Preferences, now: datetime) -> None: ...

    async def forget(self, user_id: UUID) -> None:
        """Drop the user's saved settings (their account was deleted)."""
        ...


class PeopleRepository(Protocol):
    """The people read model (domain/people.py)."""

    async def named(self, user_id: UUID, name: str, now: datetime) -> None:
        """Their name now (nothing changes once they are deleted)."""
        ...

    async def deleted(self, user_id: UUID, now: datetime) -> None:
        """ "Deleted user" from now on, for good."""
        ...

    async def rated(self, user_id: UUID, rating: int, now: datetime) -> None: ...
    async def completed(self, user_id: UUID, now: datetime) -> None: ...
    async def of(self, user_ids: list[UUID]) -> dict[UUID, Person]:
        """A person for each id asked (nameless for ids never heard of)."""
        ...


@dataclass(frozen=True, slots=True)
class MailRecord:
    """One mail the notifier queued for the user: what it was about and what became of it
    (its body is left out: a reset mail's body holds a token)."""

    kind: str
    to_email: str
    subject: str
    state: str
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserData:
    """Everything messaging holds about one user: their export. `messages` are those of the
    user's conversations, sent and received, in conversation then sequence order."""

    conversations: list[Conversation]
    messages: list[Message]
    notifications: list[Notification]
    preferences: Preferences
    mail_address: str | None
    mails: list[MailRecord]


class UserDataRepository(Protocol):
    async def of(self, user_id: UUID) -> UserData: ...


class Caller(Protocol):
    """Who asks, as their token says: the use cases that check a role take this."""

    @property
    def user_id(self) -> UUID: ...
    @property
    def role(self) -> str: ...


class ReportRepository(Protocol):
    async def message(self, message_id: UUID) -> Message | None: ...
    async def get(self, report_id: UUID) -> Report | None: ...
    async def add(self, report: Report) -> None:
        """Conflict `report_exists` while the reporter has an open report of the message."""
        ...

    async def close(self, report: Report) -> bool:
        """Save an open report's answer; False when it was answered meanwhile."""
        ...

    async def list(self, *, closed: bool, limit: int, after: PageKey | None) -> Page[Report]: ...


class MessagingUnitOfWork(UnitOfWork[DomainEvent], Protocol):
    # Read-only members, so the SQL unit of work's concrete repositories satisfy them.
    @property
    def conversations(self) -> ConversationRepository: ...
    @property
    def messages(self) -> MessageRepository: ...
    @property
    def notifications(self) -> NotificationRepository: ...
    @property
    def preferences(self) -> PreferencesRepository: ...
    @property
    def user_data(self) -> UserDataRepository: ...
    @property
    def reports(self) -> ReportRepository: ...
    @property
    def people(self) -> PeopleRepository: ...


class Fanout(Protocol):
    """Delivers to the sockets of every replica, after the commit."""

    async def message_stored(self, conversation: Conversation, message: Message) -> None: ...

    async def notify(self, notifications: list[Notification]) -> None: ...

    async def conversation_updated(self, conversation: Conversation) -> None:
        """Both participants' sockets get the conversation's new inbox line (their unread),
        but those subscribed to it, which get the message itself."""
        ...

    async def read(self, conversation: Conversation, reader_id: UUID, seq: int) -> None:
        """The other participant's sockets get a `read` receipt, the reader's its inbox line."""
        ...


class Ephemeral(Protocol):
    """Typing and presence over core NATS: never stored, lost when nobody listens."""

    def typing_allowed(self, sender_id: UUID, conversation_id: UUID) -> bool:
        """This sender's typing in this conversation may go out now (at most once per period)."""
        ...

    async def typing(self, conversation: Conversation, sender_id: UUID) -> None: ...

    async def joined(self, user_id: UUID) -> None:
        """A socket of `user_id` opened on this replica."""
        ...

    async def left(self, user_id: UUID) -> None:
        """A socket of `user_id` closed on this replica."""
        ...

    def watch(self, socket: Socket, user_id: UUID) -> None:
        """`socket` hears `user_id`'s presence: now, then at each change."""
        ...

    def forget(self, socket: Socket) -> None: ...


class Socket(Protocol):
    """One client's WebSocket on this replica: a bounded outgoing queue and one way to close."""

    @property
    def user_id(self) -> UUID: ...
    @property
    def session_id(self) -> UUID: ...
    @property
    def closing(self) -> bool: ...

    def push(self, data: bytes) -> bool:
        """Queue an encoded text frame; a reader too slow to take it is closed 1013."""
        ...

    async def put(self, data: bytes, *, stall_s: float) -> None:
        """Queue `data` once there is room (a replay paces itself on the reader)."""
        ...

    def received(self, kind: str) -> None:
        """Count one frame from the client, by kind."""
        ...

    def close_soon(self, code: int, reason: str) -> None: ...

    async def finish(self) -> None:
        """After the reader loop ended: stop writing, wait for a close in progress."""
        ...


class Sockets(Protocol[W_contra]):
    """This replica's open sockets; `W_contra` is the web framework's WebSocket."""

    async def connect(
        self, ws: W_contra, *, user_id: UUID, session_id: UUID, transport: object = None
    ) -> Socket | None:
        """Register a prepared WebSocket (`transport`: its connection's, for direct writes);
        None, and it is closed 4429, when the user holds too many open."""
        ...

    async def disconnect(self, socket: Socket) -> None:
        """Forget `socket` and stop its writer."""
        ...

    async def close_all(self, code: int, reason: str) -> None: ...


class Subscription(Protocol):
    """One socket's interest in one conversation; live frames are held until `go_live`."""

    @property
    def last_seq(self) -> int: ...

    async def ready(self) -> int:
        """Once the conversation's feed listens: the last seq it has released live."""
        ...

    def go_live(self, last_seq: int) -> None:
        """Release the held frames above `last_seq`, then deliver live."""
        ...


class Subscriptions(Protocol):
    """Which conversations each socket follows, on this replica."""

    def attach(self, socket: Socket, conversation_id: UUID) -> Subscription: ...
    async def unsubscribe(self, socket: Socket, conversation_id: UUID) -> None: ...
    async def leave(self, socket: Socket) -> None:
        """Unsubscribe `socket` from every conversation (it is going away)."""
        ...
