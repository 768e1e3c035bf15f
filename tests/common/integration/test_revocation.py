"""Revocations over a real nats-server: the live core-NATS feed and the start-up catch-up."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import nats
import pytest
from nats.aio.client import Client as NATS

from chore_common.auth import RevocationFeed, RevokedSessions
from chore_common.bus.streams import ensure_streams
from chore_common.contracts import Envelope
from chore_common.contracts.auth import SessionRevokedV1
from chore_common.testing.nats import NatsServer


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[NATS]:
    client = await nats.connect(nats_server.url)
    await ensure_streams(client.jetstream(), replicas=1, max_age_s=3600)
    yield client
    await client.close()


async def publish_revocation(nc: NATS, session_id: str, revoked_at: datetime | None = None) -> None:
    """What auth's relay does: a JetStream publish of the envelope on its subject."""
    event = SessionRevokedV1(
        user_id=uuid.uuid4(),
        session_id=uuid.UUID(session_id),
        revoked_at=revoked_at or datetime.now(UTC),
        reason="logout",
    )
    envelope = Envelope.of(event, "auth")
    await nc.jetstream().publish(
        envelope.subject, envelope.to_bytes(), headers={"Nats-Msg-Id": str(envelope.id)}
    )


async def wait_revoked(revoked: RevokedSessions, session_id: str, within_s: float) -> float:
    started = time.monotonic()
    while not revoked.is_revoked(session_id):
        assert time.monotonic() - started < within_s, "revocation not seen in time"
        await asyncio.sleep(0.005)
    return time.monotonic() - started


async def test_every_replica_hears_a_revocation_within_a_second(
    nc: NATS, nats_server: NatsServer
) -> None:
    replicas = []
    for _ in range(3):
        client = await nats.connect(nats_server.url)
        revoked = RevokedSessions()
        feed = RevocationFeed(client, revoked)
        await feed.start()
        replicas.append((client, revoked, feed))
    try:
        sid = str(uuid.uuid4())
        await publish_revocation(nc, sid)
        for _, revoked, _ in replicas:
            await wait_revoked(revoked, sid, within_s=1.0)
    finally:
        for client, _, feed in replicas:
            await feed.stop()
            await client.close()


async def test_a_replica_starting_later_catches_up_from_the_stream(nc: NATS) -> None:
    recent, old = str(uuid.uuid4()), str(uuid.uuid4())
    await publish_revocation(nc, recent)
    # Revoked long enough ago that all its tokens have expired: nothing to remember.
    await publish_revocation(nc, old, revoked_at=datetime.now(UTC) - timedelta(hours=1))
    revoked = RevokedSessions(token_ttl_s=900)
    feed = RevocationFeed(nc, revoked)
    await feed.start()
    try:
        assert revoked.is_revoked(recent)
        assert not revoked.is_revoked(old)
    finally:
        await feed.stop()


async def test_listeners_are_told_of_revocations_from_nats(nc: NATS) -> None:
    revoked = RevokedSessions()
    heard: list[str] = []
    revoked.on_revoke(heard.append)
    feed = RevocationFeed(nc, revoked)
    await feed.start()
    try:
        sid = str(uuid.uuid4())
        await publish_revocation(nc, sid)
        await wait_revoked(revoked, sid, within_s=1.0)
        assert sid in heard
    finally:
        await feed.stop()


async def test_garbage_on_the_subject_is_ignored(
    nats_factory: Callable[[], NatsServer],
) -> None:
    # Its own server: the AUTH stream keeps the garbage, and other tests read that stream.
    server = nats_factory()
    nc = await nats.connect(server.url)
    await ensure_streams(nc.jetstream(), replicas=1, max_age_s=3600)
    revoked = RevokedSessions()
    feed = RevocationFeed(nc, revoked)
    await feed.start()
    try:
        await nc.publish("auth.session.revoked", b"not json")
        sid = str(uuid.uuid4())
        await publish_revocation(nc, sid)
        await wait_revoked(revoked, sid, within_s=1.0)
    finally:
        await feed.stop()
        await nc.close()


async def test_revocations_published_while_disconnected_are_caught_up_after_reconnect(
    nats_factory: Callable[[], NatsServer],
) -> None:
    server = nats_factory()
    setup = await nats.connect(server.url)
    await ensure_streams(setup.jetstream(), replicas=1, max_age_s=3600)
    await setup.close()
    # Slow to reconnect, so the event below is published while this client is away.
    follower = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=1.5)
    revoked = RevokedSessions()
    feed = RevocationFeed(follower, revoked)
    await feed.start()
    try:
        server.stop()
        server.start()
        publisher = await nats.connect(server.url)
        sid = str(uuid.uuid4())
        await publish_revocation(publisher, sid)
        await publisher.close()
        await wait_revoked(revoked, sid, within_s=5.0)
    finally:
        await feed.stop()
        await follower.close()
