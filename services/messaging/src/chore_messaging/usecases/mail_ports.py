"""What the mail use cases need: the address book and mail queue, a renderer and a sender.

Kept apart from `ports.py` so the mail notifier stays one removable part of messaging.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol
from uuid import UUID

from chore_messaging.domain.mail import Address, Letter, Mail, MailKind, Unread
from chore_messaging.usecases.ports import MessagingUnitOfWork


class DeliveryFailed(Exception):
    """The SMTP server did not take the mail; `permanent` when trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class AddressUnknown(Exception):
    """No contact event for this user yet: the consumer retries the event with backoff (the
    contact usually follows within seconds) and dead-letters it, visibly, if it never comes."""


class MailRepository(Protocol):
    async def save_address(self, address: Address, now: datetime) -> None: ...

    async def address(self, user_id: UUID) -> Address | None: ...

    async def forget(self, user_id: UUID) -> None:
        """Erase the user's address (keeping the id), presence and every mail of theirs."""
        ...

    async def queue(self, mail: Mail) -> bool:
        """Store it unless that id exists; True when this call queued it."""
        ...

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Mail]:
        """Queued mails due by `now`, each leased to this caller until `lease_until`."""
        ...

    async def sent(self, mail_id: UUID, now: datetime) -> None:
        """Mark it sent and drop its bodies (they may hold single-use links)."""
        ...

    async def retry(self, mail_id: UUID, attempts: int, at: datetime, error: str) -> None: ...

    async def failed(self, mail_id: UUID, attempts: int, now: datetime, error: str) -> None: ...

    async def seen(self, user_ids: set[UUID], now: datetime) -> None:
        """Users with a socket opened, open or closed just now."""
        ...

    async def digest_candidates(
        self, offline_before: datetime
    ) -> dict[UUID, tuple[datetime | None, datetime | None, list[Unread]]]:
        """Users with unread messages not seen since `offline_before`:
        (last seen, last digest, unread per conversation)."""
        ...

    async def digested(self, user_id: UUID, now: datetime) -> None: ...


class MailUnitOfWork(MessagingUnitOfWork, Protocol):
    @property
    def mail(self) -> MailRepository: ...


class Renderer(Protocol):
    def __call__(self, kind: MailKind, values: Mapping[str, object]) -> Letter:
        """Render the kind's templates; a broken template raises (the event is poison)."""
        ...


class Sender(Protocol):
    async def send(self, mail: Mail) -> None:
        """Hand it to the SMTP server; raises DeliveryFailed."""
        ...
