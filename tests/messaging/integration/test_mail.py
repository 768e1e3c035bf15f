"""The mail notifier end to end: events on a real nats-server, mail read back from a real
SMTP server (aiosmtpd), the queue read back from the real database.

Each test runs its own nats-server (the durables start clean) and its own SMTP server.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import nats
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.bus.dlq import DeadLetter, list_dead_letters
from chore_common.contracts.auth import (
    ContactChangedV1,
    EmailVerificationRequestedV1,
    PasswordResetRequestedV1,
    UserDeletedV1,
)
from chore_common.contracts.envelope import Envelope
from chore_common.contracts.registry import Contract, producer_of
from chore_common.contracts.tasks import OfferDeclinedV1, TaskAssignedV1, TaskDisputedV1
from chore_common.testing.apps import StartApp
from chore_common.testing.nats import NatsServer
from chore_messaging.adapters.mail_tables import MAIL_ADDRESSES, MAIL_QUEUE
from chore_messaging.adapters.mail_templates import TEMPLATES
from chore_messaging.adapters.uow import MessagingUnitOfWork
from chore_messaging.domain.mail import mail_id
from chore_messaging.usecases.messages import SendMessage, send_message

from .conftest import Connect, NoFanout, Pair
from .mail_sink import Sink, body

pytestmark = pytest.mark.db

NOW = datetime.now(UTC)


@pytest.fixture
def bus(nats_factory: Callable[[], NatsServer]) -> NatsServer:
    return nats_factory()  # its own server: the durables start clean


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink().start()
    yield server
    server.stop()


def mail_settings(bus: NatsServer, sink: Sink, **more: Any) -> dict[str, Any]:
    return {
        "nats_url": bus.url,
        "consumer_enabled": True,
        "smtp_port": sink.port,
        "smtp_tls": "none",
        "mail_poll_s": 0.1,
        "mail_retry_s": [0.2, 0.5, 1.0],
        **more,
    }


async def publish(server: NatsServer, *events: Contract) -> list[Envelope]:
    envelopes = [Envelope.of(event, producer_of(event.TYPE)) for event in events]
    await republish(server, *envelopes)
    return envelopes


async def republish(server: NatsServer, *envelopes: Envelope) -> None:
    """No Nats-Msg-Id: the stream keeps every copy, as a redelivery would bring it again."""
    nc = await nats.connect(server.url)
    try:
        for envelope in envelopes:
            await nc.jetstream().publish(envelope.subject, envelope.to_bytes())
    finally:
        await nc.close()


def contact(user_id: UUID, email: str, name: str, *, verified: bool = True) -> ContactChangedV1:
    return ContactChangedV1(user_id=user_id, email=email, name=name, email_verified=verified)


def assigned(assignee: UUID, title: str = "Fix the sink") -> TaskAssignedV1:
    return TaskAssignedV1(
        task_id=uuid4(),
        owner_id=uuid4(),
        assignee_id=assignee,
        offer_id=uuid4(),
        title=title,
        price_cents=4500,
        version=2,
        assigned_at=NOW,
    )


def declined(tasker: UUID) -> OfferDeclinedV1:
    return OfferDeclinedV1(
        offer_id=uuid4(),
        task_id=uuid4(),
        tasker_id=tasker,
        owner_id=uuid4(),
        title="Mow",
        declined_at=NOW,
    )


def reset(user_id: UUID, email: str) -> PasswordResetRequestedV1:
    return PasswordResetRequestedV1(
        user_id=user_id,
        email=email,
        name="Ann Example",
        link=f"http://127.0.0.1:8080/auth/reset?token={uuid4().hex}",
        expires_at=NOW + timedelta(minutes=30),
    )


async def rows(engine: AsyncEngine, table: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(table))).mappings().all())


async def until(check: Callable[[], Any], what: str, wait_s: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        got = await check()
        if got:
            return got
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never: {what}")
        await asyncio.sleep(0.1)


async def test_a_password_reset_request_arrives_by_mail_with_its_link(
    bus: NatsServer, sink: Sink, start_messaging: StartApp, engine: AsyncEngine
) -> None:
    await start_messaging(**mail_settings(bus, sink))
    user = uuid4()
    event = reset(user, "ann@example.com")
    [envelope] = await publish(bus, event)

    [mail] = await sink.wait_for(1, address="ann@example.com")
    assert mail["Subject"] == "Reset your Chore password"
    assert mail["To"] == "Ann Example <ann@example.com>"
    assert mail["From"] == "Chore <no-reply@chore.invalid>"
    assert mail["Message-ID"] == f"<{mail_id(envelope.id, user)}@chore.invalid>"
    assert event.link in body(mail, "plain")
    assert f'href="{event.link}"' in body(mail, "html")
    assert "Hello Ann Example," in body(mail, "plain")

    async def sent() -> list[Any]:
        return [r for r in await rows(engine, MAIL_QUEUE) if r["state"] == "sent"]

    # Once sent, the link is gone from messaging's database.
    [row] = await until(sent, "the mail is marked sent")
    assert (row["text_body"], row["html_body"]) == ("", "")


async def test_mail_outlives_an_smtp_outage_and_each_is_sent_exactly_once(
    bus: NatsServer, sink: Sink, start_messaging: StartApp, engine: AsyncEngine
) -> None:
    sink.stop()
    down_at = asyncio.get_running_loop().time()
    # Two replicas share the consumers and both deliver: the queue's lease keeps them apart.
    await start_messaging(**mail_settings(bus, sink))
    await start_messaging(**mail_settings(bus, sink))
    ann, bob, cat = uuid4(), uuid4(), uuid4()
    await publish(
        bus,
        contact(ann, "ann@example.com", "Ann"),
        contact(bob, "bob@example.com", "Bob"),
        contact(cat, "cat@example.com", "Cat"),
    )

    async def book_filled() -> bool:
        return len(await rows(engine, MAIL_ADDRESSES)) == 3

    await until(book_filled, "the address book knows them")
    events = await publish(
        bus,
        reset(ann, "ann@example.com"),
        EmailVerificationRequestedV1(
            user_id=bob,
            email="bob@example.com",
            name="Bob",
            link="http://127.0.0.1:8080/auth/verify?token=x",
            expires_at=NOW + timedelta(days=1),
        ),
        assigned(cat),
        declined(ann),
        TaskDisputedV1(
            task_id=uuid4(),
            owner_id=uuid4(),
            assignee_id=bob,
            title="Paint",
            reason="Half the fence is still brown",
            version=5,
            disputed_at=NOW,
        ),
    )
    await republish(bus, events[2], events[0])  # delivered again while the server is away
    recipients = [ann, bob, cat, ann, bob]
    pairs = zip(events, recipients, strict=True)
    expected = {f"<{mail_id(e.id, to)}@chore.invalid>" for e, to in pairs}

    async def retrying() -> bool:
        # The first failure of a round postpones the rest of it: the server is down for all.
        queued = await rows(engine, MAIL_QUEUE)
        return len(queued) == 5 and max(r["attempts"] for r in queued) >= 2

    await until(retrying, "every mail is queued, and delivery retried while the server is down")
    assert sink.mails() == []
    await asyncio.sleep(max(0.0, 30 - (asyncio.get_running_loop().time() - down_at)))
    sink.start()

    mails = await sink.wait_for(5, wait_s=30)

    async def all_sent() -> bool:
        return all(r["state"] == "sent" for r in await rows(engine, MAIL_QUEUE))

    await until(all_sent, "every mail is marked sent")
    await asyncio.sleep(1.0)  # several delivery rounds of both replicas: nothing more comes
    mails = sink.mails()
    assert sorted(str(m["Message-ID"]) for m in mails) == sorted(expected)
    ann_to, bob_to, cat_to = (f"{n} <{n.lower()}@example.com>" for n in ("Ann", "Bob", "Cat"))
    reset_to = "Ann Example <ann@example.com>"  # the reset event's own name and address
    assert sorted(str(m["To"]) for m in mails) == sorted([reset_to, ann_to, bob_to, bob_to, cat_to])
    final = await rows(engine, MAIL_QUEUE)
    assert max(r["attempts"] for r in final) >= 5  # tried all along the outage
    assert {r["sent_at"] is not None for r in final} == {True}


async def test_a_mailbox_refused_for_good_is_marked_failed_not_retried(
    bus: NatsServer, sink: Sink, start_messaging: StartApp, engine: AsyncEngine
) -> None:
    sink.refused.add("gone@example.com")
    await start_messaging(**mail_settings(bus, sink))
    await publish(bus, reset(uuid4(), "gone@example.com"), reset(uuid4(), "ann@example.com"))
    await sink.wait_for(1, address="ann@example.com")

    async def settled() -> list[Any]:
        done = [r for r in await rows(engine, MAIL_QUEUE) if r["state"] != "queued"]
        return done if len(done) == 2 else []

    by_address = {r["to_email"]: r for r in await until(settled, "both mails are settled")}
    gone = by_address["gone@example.com"]
    assert (gone["state"], gone["attempts"]) == ("failed", 1)  # a 5xx is not tried again
    assert "550" in gone["last_error"]
    assert (gone["text_body"], gone["html_body"]) == ("", "")
    assert by_address["ann@example.com"]["state"] == "sent"
    assert sink.to("gone@example.com") == []


async def dead_letters(server: NatsServer, stream: str) -> list[DeadLetter]:
    nc = await nats.connect(server.url)
    try:
        return await list_dead_letters(nc.jetstream(), stream=stream)
    finally:
        await nc.close()


async def test_a_broken_template_sends_its_event_to_the_dlq_and_spares_the_others(
    bus: NatsServer, sink: Sink, start_messaging: StartApp, tmp_path: Path, engine: AsyncEngine
) -> None:
    shutil.copytree(TEMPLATES, tmp_path, dirs_exist_ok=True)
    (tmp_path / "en" / "offer_declined.html").write_text("<p>{{ no_such_value }}</p>\n")
    await start_messaging(**mail_settings(bus, sink, mail_templates_dir=tmp_path))
    tasker = uuid4()
    await publish(bus, contact(tasker, "tom@example.com", "Tom"))

    async def known() -> bool:
        return len(await rows(engine, MAIL_ADDRESSES)) == 1

    await until(known, "Tom is in the address book")  # so the one failure is the template
    [poison] = await publish(bus, declined(tasker))
    await publish(bus, assigned(tasker, "Clean the gutters"), reset(uuid4(), "ann@example.com"))

    [hired] = await sink.wait_for(1, address="tom@example.com")
    assert hired["Subject"] == "You are hired: Clean the gutters"
    await sink.wait_for(1, address="ann@example.com")

    async def dead() -> list[DeadLetter]:
        return await dead_letters(bus, "TASKS")

    [letter] = await until(dead, "the broken template's event is dead-lettered")
    assert letter.event_id == str(poison.id)
    assert letter.event_type == "tasks.offer.declined"
    assert (letter.consumer, letter.reason, letter.deliveries) == ("mail", "unprocessable", 1)
    assert "en/offer_declined.html" in letter.error
    assert "'no_such_value' is undefined" in letter.error
    assert [m["Subject"] for m in sink.to("tom@example.com")] == [hired["Subject"]]


async def test_task_mail_follows_the_address_book_and_stops_when_the_user_is_deleted(
    bus: NatsServer, sink: Sink, start_messaging: StartApp, engine: AsyncEngine
) -> None:
    await start_messaging(**mail_settings(bus, sink))
    ann, bob, carl = uuid4(), uuid4(), uuid4()
    await publish(
        bus,
        contact(ann, "ann@example.com", "Ann"),
        contact(bob, "bob@example.com", "Bob", verified=False),
        contact(carl, "carl@example.com", "Carl"),
        contact(ann, "ann.two@example.com", "Ann Two"),  # she changed both
        UserDeletedV1(user_id=carl, deleted_at=NOW),
    )

    async def book_settled() -> bool:
        book = {r["user_id"]: r["email"] for r in await rows(engine, MAIL_ADDRESSES)}
        return book == {ann: "ann.two@example.com", bob: "bob@example.com", carl: ""}

    await until(book_settled, "the address book holds Ann's new address, Bob, and no Carl")
    await publish(bus, assigned(bob), assigned(carl), assigned(ann, "Walk the dog"))

    [mail] = await sink.wait_for(1, address="ann.two@example.com")
    assert mail["To"] == "Ann Two <ann.two@example.com>"
    assert "Hello Ann Two," in body(mail, "plain")
    # Bob's address is not verified, Carl is gone: their events (before Ann's) made no mail.
    queued = await rows(engine, MAIL_QUEUE)
    assert [r["user_id"] for r in queued] == [ann]
    assert [str(m["To"]) for m in sink.mails()] == ["Ann Two <ann.two@example.com>"]

    # Hired before auth's contact event reached messaging: the event waits for the address.
    dan = uuid4()
    await publish(bus, assigned(dan, "Fix the tap"))
    await asyncio.sleep(0.5)  # the event arrives first and finds no address
    await publish(bus, contact(dan, "dan@example.com", "Dan"))
    [late] = await sink.wait_for(1, address="dan@example.com")
    assert late["Subject"] == "You are hired: Fix the tap"


async def test_users_away_get_one_digest_of_their_unread_messages(
    bus: NatsServer,
    sink: Sink,
    start_messaging: StartApp,
    open_conversation: Callable[..., Awaitable[Pair]],
    uow: Callable[[], MessagingUnitOfWork],
    connect: Connect,
) -> None:
    away = await open_conversation()
    here = await open_conversation(owner=away.owner)
    server = await start_messaging(
        **mail_settings(bus, sink),
        # Away for 5 s is away: long beside the 0.2 s presence flush, even on a loaded box.
        mail_offline_h=5 / 3600,
        mail_digest_every_s=0.3,
        mail_presence_flush_s=0.2,
    )
    await publish(
        bus,
        contact(away.tasker.id, "away@example.com", "Away"),
        contact(here.tasker.id, "here@example.com", "Here"),
        contact(away.owner.id, "owner@example.com", "Owner"),
    )
    sock = await connect(server, here.tasker)  # stays connected all along: not away
    await sock.send({"type": "ping"})
    await sock.until("pong")
    for pair, count in ((away, 2), (here, 1)):
        for n in range(count):
            cmd = SendMessage(pair.id, pair.owner.id, f"Are you there? ({n})", uuid4().hex)
            await send_message(uow(), cmd, datetime.now(UTC), NoFanout())

    [digest] = await sink.wait_for(1, address="away@example.com", wait_s=30)
    assert digest["Subject"] == "You have 2 unread messages on Chore"
    assert "Fix the sink: 2 unread messages" in body(digest, "plain")
    await asyncio.sleep(5.5)  # more digest rounds than the offline time: nothing more comes
    assert len(sink.to("away@example.com")) == 1  # at most one a day
    assert sink.to("here@example.com") == []  # connected: not away
    assert sink.to("owner@example.com") == []  # wrote them: nothing unread
