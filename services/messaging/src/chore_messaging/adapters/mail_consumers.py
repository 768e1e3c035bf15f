"""The mail notifier's durable consumers: `mail` on the AUTH stream (the address book, and
the verification and reset mails) and `mail` on the TASKS stream (hired, offer declined,
dispute). Apart from the `messaging` consumer, so mail trouble never holds up chat.

Each queues its mails in the consumer's transaction (the inbox row commits with them). A
template that fails raises `TemplateProblem` (the kit's `Unprocessable`): that one event goes
to `dlq.<STREAM>` at once with the error; the others go on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from chore_common.bus.consumer import Consumer, ConsumerSpec, Handler
from chore_common.clock import utcnow
from chore_common.contracts.auth import (
    ContactChangedV1,
    EmailVerificationRequestedV1,
    PasswordResetRequestedV1,
    UserDeletedV1,
)
from chore_common.contracts.envelope import Envelope
from chore_common.contracts.registry import Contract
from chore_common.contracts.tasks import OfferDeclinedV1, TaskAssignedV1, TaskDisputedV1
from chore_common.uow import UnitOfWork
from chore_messaging.usecases import mail
from chore_messaging.usecases.mail_ports import Renderer

AUTH_SPEC = ConsumerSpec(
    stream="AUTH",
    durable="mail",
    subjects=(
        ContactChangedV1.TYPE,
        UserDeletedV1.TYPE,
        EmailVerificationRequestedV1.TYPE,
        PasswordResetRequestedV1.TYPE,
    ),
)
TASKS_SPEC = ConsumerSpec(
    stream="TASKS",
    durable="mail",
    subjects=(TaskAssignedV1.TYPE, OfferDeclinedV1.TYPE, TaskDisputedV1.TYPE),
)

MailCase = Callable[[Any, Renderer, Any, Any, Any], Awaitable[None]]


def _composing(use_case: MailCase, render: Renderer) -> Handler:
    async def handle(envelope: Envelope, payload: Any, uow: UnitOfWork) -> None:
        await use_case(uow, render, envelope.id, payload, utcnow())

    return handle


async def _contact(envelope: Envelope, payload: Any, uow: UnitOfWork) -> None:
    await mail.contact_changed(uow, payload, utcnow())  # type: ignore[arg-type]


async def _deleted(envelope: Envelope, payload: Any, uow: UnitOfWork) -> None:
    await mail.user_deleted(uow, payload)  # type: ignore[arg-type]


def auth_mail_consumer(
    js: Any, uow_factory: Callable[[], UnitOfWork], render: Renderer, spec: ConsumerSpec = AUTH_SPEC
) -> Consumer:
    consumer = Consumer(js, spec, uow_factory)
    consumer.on(ContactChangedV1, _contact)
    consumer.on(UserDeletedV1, _deleted)
    consumer.on(EmailVerificationRequestedV1, _composing(mail.verification_requested, render))
    consumer.on(PasswordResetRequestedV1, _composing(mail.reset_requested, render))
    return consumer


def tasks_mail_consumer(
    js: Any,
    uow_factory: Callable[[], UnitOfWork],
    render: Renderer,
    spec: ConsumerSpec = TASKS_SPEC,
) -> Consumer:
    consumer = Consumer(js, spec, uow_factory)
    routes: list[tuple[type[Contract], MailCase]] = [
        (TaskAssignedV1, mail.task_assigned),
        (OfferDeclinedV1, mail.offer_declined),
        (TaskDisputedV1, mail.task_disputed),
    ]
    for contract, use_case in routes:
        consumer.on(contract, _composing(use_case, render))
    return consumer
