"""The mail notifier: keep the address book, queue one mail per (event, recipient), deliver
queued mail, and queue a daily digest of unread messages for users who stay away.

Queueing happens in the consumer's transaction (the inbox row commits with the mail row),
so a redelivered event queues nothing more. Delivery runs outside any transaction: a mail is
leased, handed to the SMTP server, then marked sent (its bodies dropped) in a short one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from uuid import UUID

from chore_common.contracts.auth import (
    ContactChangedV1,
    EmailVerificationRequestedV1,
    PasswordResetRequestedV1,
    UserDeletedV1,
)
from chore_common.contracts.tasks import OfferDeclinedV1, TaskAssignedV1, TaskDisputedV1
from chore_messaging.domain.mail import (
    SECURITY,
    Address,
    Mail,
    MailKind,
    RetryPolicy,
    compose,
    digest_event_id,
    needs_digest,
)
from chore_messaging.domain.preferences import Channel
from chore_messaging.usecases.mail_ports import (
    AddressUnknown,
    DeliveryFailed,
    MailUnitOfWork,
    Renderer,
    Sender,
)

UowFactory = Callable[[], MailUnitOfWork]
Clock = Callable[[], datetime]


async def mail_time(
    uow: MailUnitOfWork, user_id: UUID, kind: MailKind, now: datetime
) -> datetime | None:
    """The one place a user's notification settings decide a mail: None when its email switch
    is off, else when it may go (after the user's quiet hours). Account security mails always
    go at once."""
    if kind in SECURITY:
        return now
    # The digest is about messages; the other kinds are named as their notifications are.
    setting = "message" if kind is MailKind.UNREAD_DIGEST else kind.value
    preferences = await uow.preferences.get(user_id)
    if not preferences.switched_on(setting, Channel.EMAIL):
        return None
    return preferences.email_at(now)


async def _queue(
    uow: MailUnitOfWork,
    render: Renderer,
    event_id: UUID,
    kind: MailKind,
    to: Address,
    values: Mapping[str, object],
    now: datetime,
) -> bool:
    send_at = await mail_time(uow, to.user_id, kind, now) if to.may_receive(kind) else None
    if send_at is None:
        return False
    letter = render(kind, {"name": to.name, **values})
    return await uow.mail.queue(compose(event_id, kind, to, letter, now, send_at=send_at))


async def _queue_for(
    uow: MailUnitOfWork,
    render: Renderer,
    event_id: UUID,
    kind: MailKind,
    user_id: UUID,
    values: Mapping[str, object],
    now: datetime,
) -> bool:
    """A mail to a user known only by id: the address book says where."""
    to = await uow.mail.address(user_id)
    if to is None:
        raise AddressUnknown(f"no address for user {user_id} yet")
    return await _queue(uow, render, event_id, kind, to, values, now)


# -- the address book --------------------------------------------------------------------


async def contact_changed(uow: MailUnitOfWork, event: ContactChangedV1, now: datetime) -> None:
    address = Address(event.user_id, event.email, event.name, event.email_verified)
    await uow.mail.save_address(address, now)


async def user_deleted(uow: MailUnitOfWork, event: UserDeletedV1) -> None:
    await uow.mail.forget(event.user_id)


# -- events that make mail ---------------------------------------------------------------


async def verification_requested(
    uow: MailUnitOfWork,
    render: Renderer,
    event_id: UUID,
    event: EmailVerificationRequestedV1,
    now: datetime,
) -> None:
    # To the address being verified, which the address book may not hold yet.
    to = Address(event.user_id, event.email, event.name, verified=False)
    values = {"link": event.link, "expires_at": event.expires_at}
    await _queue(uow, render, event_id, MailKind.VERIFY_EMAIL, to, values, now)


async def reset_requested(
    uow: MailUnitOfWork,
    render: Renderer,
    event_id: UUID,
    event: PasswordResetRequestedV1,
    now: datetime,
) -> None:
    to = Address(event.user_id, event.email, event.name, verified=False)
    values = {"link": event.link, "expires_at": event.expires_at}
    await _queue(uow, render, event_id, MailKind.PASSWORD_RESET, to, values, now)


async def task_assigned(
    uow: MailUnitOfWork, render: Renderer, event_id: UUID, event: TaskAssignedV1, now: datetime
) -> None:
    values = {"task_id": event.task_id, "title": event.title, "price_cents": event.price_cents}
    kind = MailKind.TASK_ASSIGNED
    await _queue_for(uow, render, event_id, kind, event.assignee_id, values, now)


async def offer_declined(
    uow: MailUnitOfWork, render: Renderer, event_id: UUID, event: OfferDeclinedV1, now: datetime
) -> None:
    values = {"task_id": event.task_id, "title": event.title}
    kind = MailKind.OFFER_DECLINED
    await _queue_for(uow, render, event_id, kind, event.tasker_id, values, now)


async def task_disputed(
    uow: MailUnitOfWork, render: Renderer, event_id: UUID, event: TaskDisputedV1, now: datetime
) -> None:
    values = {"task_id": event.task_id, "title": event.title, "reason": event.reason}
    kind = MailKind.TASK_DISPUTED
    await _queue_for(uow, render, event_id, kind, event.assignee_id, values, now)


# -- delivery ----------------------------------------------------------------------------


async def deliver_due(
    uow: UowFactory, sender: Sender, policy: RetryPolicy, now: Clock, *, batch: int, lease_s: float
) -> int:
    """Send the mails due now; returns how many were sent.

    A lease (not a lock) keeps other replicas off them while the SMTP server answers: it
    outlasts every try of the batch. The first failure that may pass (the server is down)
    postpones the rest of the batch with it instead of trying each in turn.
    """
    start = now()
    async with uow() as work:
        mails = await work.mail.claim_due(start, start + timedelta(seconds=lease_s), batch)
        await work.commit()
    sent = 0
    for index, mail in enumerate(mails):
        try:
            await sender.send(mail)
        except DeliveryFailed as exc:
            at = await _record_failure(uow, policy, mail, exc, now())
            if not exc.permanent and at is not None:
                await _postpone(uow, mails[index + 1 :], at)
                break
            continue
        async with uow() as work:
            await work.mail.sent(mail.id, now())
            await work.commit()
        sent += 1
    return sent


async def _record_failure(
    uow: UowFactory, policy: RetryPolicy, mail: Mail, exc: DeliveryFailed, now: datetime
) -> datetime | None:
    """Schedule the next attempt (returned), or mark the mail failed (None)."""
    attempts = mail.attempts + 1
    async with uow() as work:
        if policy.gives_up(mail, permanent=exc.permanent, now=now):
            await work.mail.failed(mail.id, attempts, now, str(exc))
            at = None
        else:
            at = policy.next_attempt(attempts, now)
            await work.mail.retry(mail.id, attempts, at, str(exc))
        await work.commit()
    return at


async def _postpone(uow: UowFactory, mails: list[Mail], at: datetime) -> None:
    if not mails:
        return
    async with uow() as work:
        for mail in mails:
            await work.mail.retry(mail.id, mail.attempts, at, mail.last_error)
        await work.commit()


# -- presence and the digest -------------------------------------------------------------


async def note_presence(uow: UowFactory, users: set[UUID], now: datetime) -> None:
    if not users:
        return
    async with uow() as work:
        await work.mail.seen(users, now)
        await work.commit()


async def queue_digests(
    uow: UowFactory, render: Renderer, now: datetime, offline_after: timedelta
) -> int:
    """Queue today's digest for each user offline longer than `offline_after` with unread
    messages newer than their last digest; returns how many were queued. Every replica may
    run it: the digest's id (user, day) makes the second one a no-op."""
    async with uow() as work:
        candidates = await work.mail.digest_candidates(now - offline_after)
    queued = 0
    for user_id, (last_seen, last_digest, unread) in candidates.items():
        if not needs_digest(last_seen, last_digest, unread, now, offline_after):
            continue
        conversations = [
            {"title": u.title, "count": u.count, "conversation_id": u.conversation_id}
            for u in sorted(unread, key=lambda u: u.latest_at, reverse=True)
        ]
        values = {"conversations": conversations, "total": sum(u.count for u in unread)}
        event_id = digest_event_id(user_id, now.date())
        async with uow() as work:
            to = await work.mail.address(user_id)
            if to is None:
                continue
            made = await _queue(work, render, event_id, MailKind.UNREAD_DIGEST, to, values, now)
            if made:  # else (no address yet, or sent today) the next round looks again
                await work.mail.digested(user_id, now)
            await work.commit()
        queued += made
    return queued
