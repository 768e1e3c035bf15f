"""Mail: who gets which letter, once, and when a failed delivery is tried again.

A mail is made once per (event, recipient): its id is derived from both, so an event
delivered twice, or composed on two replicas, queues one mail. Delivery is retried on a
growing schedule while the failure may pass (server down, 4xx); a permanent refusal (5xx)
or a mail older than the give-up age ends as failed, with the error kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

_MAIL_NS = uuid5(NAMESPACE_URL, "chore:messaging:mail")
_DIGEST_NS = uuid5(NAMESPACE_URL, "chore:messaging:digest")


class MailKind(StrEnum):
    """One template set each (`<kind>.subject.txt`, `<kind>.txt`, `<kind>.html`)."""

    VERIFY_EMAIL = "verify_email"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a template name)
    TASK_ASSIGNED = "task_assigned"
    OFFER_DECLINED = "offer_declined"
    TASK_DISPUTED = "task_disputed"
    UNREAD_DIGEST = "unread_digest"


# Account security mails go whatever the user's notification settings say, and to an
# address not verified yet (verifying it is the point); the others only to a verified one.
SECURITY: frozenset[MailKind] = frozenset({MailKind.VERIFY_EMAIL, MailKind.PASSWORD_RESET})


class MailState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


def mail_id(event_id: UUID, user_id: UUID) -> UUID:
    """The one mail an event makes for a recipient, the same id on every replica."""
    return uuid5(_MAIL_NS, f"{event_id}:{user_id}")


def digest_event_id(user_id: UUID, day: date) -> UUID:
    """A digest is an event of its own: one per user per day (UTC)."""
    return uuid5(_DIGEST_NS, f"{user_id}:{day.isoformat()}")


@dataclass(frozen=True, slots=True)
class Address:
    """Where a user gets mail (from auth's contact events), in messaging's address book."""

    user_id: UUID
    email: str
    name: str
    verified: bool

    def may_receive(self, kind: MailKind) -> bool:
        return bool(self.email) and (self.verified or kind in SECURITY)

    @classmethod
    def erased(cls, user_id: UUID) -> Address:
        """What stays of a deleted user: the id, so their later events make no mail."""
        return cls(user_id, "", "", verified=False)


@dataclass(frozen=True, slots=True)
class Letter:
    """A rendered mail: one subject line, a plain text body and an HTML body."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class Mail:
    id: UUID
    event_id: UUID
    user_id: UUID
    kind: MailKind
    to_email: str
    to_name: str
    letter: Letter
    created_at: datetime
    attempts: int = 0
    next_attempt_at: datetime | None = None
    state: MailState = MailState.QUEUED
    last_error: str = ""


def compose(
    event_id: UUID,
    kind: MailKind,
    to: Address,
    letter: Letter,
    now: datetime,
    *,
    send_at: datetime | None = None,
) -> Mail:
    """The queued mail; `send_at` holds it back (the user's quiet hours), else it goes now."""
    return Mail(
        id=mail_id(event_id, to.user_id),
        event_id=event_id,
        user_id=to.user_id,
        kind=kind,
        to_email=to.email,
        to_name=to.name,
        letter=letter,
        created_at=now,
        next_attempt_at=send_at or now,
    )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Delays between delivery attempts: the schedule, then its last step, until give-up."""

    backoff_s: tuple[float, ...] = (2.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0)
    give_up_after: timedelta = field(default=timedelta(hours=72))

    def next_attempt(self, attempts: int, now: datetime) -> datetime:
        """When to try again after the `attempts`-th failed attempt (1-based)."""
        step = self.backoff_s[min(max(attempts, 1), len(self.backoff_s)) - 1]
        return now + timedelta(seconds=step)

    def gives_up(self, mail: Mail, *, permanent: bool, now: datetime) -> bool:
        return permanent or now - mail.created_at >= self.give_up_after


@dataclass(frozen=True, slots=True)
class Unread:
    """Unread messages of one conversation, for a digest line."""

    conversation_id: UUID
    title: str
    count: int
    latest_at: datetime


# Several presence flushes: long enough for a user who just came online to show as such.
SETTLE = timedelta(minutes=5)


def needs_digest(
    last_seen: datetime | None,
    last_digest: datetime | None,
    unread: list[Unread],
    now: datetime,
    offline_after: timedelta,
) -> bool:
    """Offline long enough, a message left unread a while (`SETTLE`, at most `offline_after`),
    and something arrived since the last digest (or ever).

    "Offline" is what messaging sees: no socket open and none opened or closed (and so no
    message read, since reads go over the socket) for `offline_after`. A user never seen
    connected counts as offline. Presence is recorded every minute or so
    (MESSAGING_MAIL_PRESENCE_FLUSH_S), so a user who has just come online may not show yet:
    a message that arrived a moment ago waits until that has settled.
    """
    if last_seen is not None and now - last_seen < offline_after:
        return False
    waiting = [u.latest_at for u in unread if u.count > 0]
    settle = min(SETTLE, offline_after)
    if not any(now - at >= settle for at in waiting):
        return False
    return last_digest is None or max(waiting) > last_digest
