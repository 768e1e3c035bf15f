"""S1 (only participants, on every path), S3 (revocation closes sockets on every replica
within a second) and the token rules of the socket."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from uuid import uuid4

import aiohttp
import nats
import pytest

from chore_common.contracts.auth import SessionRevokedV1
from chore_common.contracts.envelope import Envelope
from chore_common.testing.apps import StartApp
from chore_common.testing.nats import NatsServer

from .conftest import Client, Connect, Issuer

pytestmark = pytest.mark.db


async def test_s1_a_non_participant_reaches_nothing_on_any_path(
    messaging: Client, open_conversation, connect: Connect, issuer: Issuer
) -> None:
    pair = await open_conversation()
    owner = await connect(messaging, pair.owner)
    await owner.send(
        {"type": "send", "conversation_id": str(pair.id), "body": "secret", "client_msg_id": "s"}
    )
    await owner.until("ack")
    stranger = issuer.user("tasker")
    missing = uuid4()
    sock = await connect(messaging, stranger)
    for conversation_id in (pair.id, missing):  # a real one answers exactly like a missing one
        cid = str(conversation_id)
        await sock.send({"type": "subscribe", "conversation_id": cid, "since_seq": 0})
        err = await sock.until("error")
        assert (err["code"], err["conversation_id"]) == ("conversation_not_found", cid)
        await sock.send({"type": "send", "conversation_id": cid, "body": "x", "client_msg_id": "1"})
        err = await sock.until("error")
        assert err["code"] == "conversation_not_found"
        await sock.send({"type": "read", "conversation_id": cid, "seq": 1})
        assert (await sock.until("error"))["code"] == "conversation_not_found"

        url = f"/messaging/conversations/{cid}/messages"
        resp = await messaging.get(url, headers=stranger.headers)
        assert resp.status == 404
        assert (await resp.json())["code"] == "conversation_not_found"
        resp = await messaging.post(
            url, json={"body": "x", "client_msg_id": "2"}, headers=stranger.headers
        )
        assert resp.status == 404
    listed = await (
        await messaging.get("/messaging/conversations", headers=stranger.headers)
    ).json()
    assert listed["items"] == []
    # Nothing the stranger did leaked a frame or stored a message.
    assert not [f for f in sock.seen if f["type"] in ("message", "ack", "subscribed")]
    url = f"/messaging/conversations/{pair.id}/messages"
    history = await (await messaging.get(url, headers=pair.owner.headers)).json()
    assert [m["body"] for m in history["items"]] == ["secret"]
    # Someone else's notification cannot be marked read either.
    url = f"/messaging/notifications/{uuid4()}/read"
    resp = await messaging.post(url, headers=stranger.headers)
    assert resp.status == 404


async def test_a_socket_needs_a_valid_token(messaging: Client, issuer: Issuer) -> None:
    url = str(messaging.make_url("/messaging/ws"))
    async with aiohttp.ClientSession() as session:
        for kwargs in ({}, {"protocols": ("bearer", "not-a-jwt")}, {"params": {"token": "x.y.z"}}):
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await session.ws_connect(url, **kwargs)  # type: ignore[arg-type]
            assert caught.value.status == 401
        user = issuer.user("client")
        ws = await session.ws_connect(url, protocols=("bearer", user.token))
        assert ws.protocol == "bearer"  # the token is never echoed back
        await ws.close()


async def test_the_socket_closes_when_the_token_expires(
    messaging: Client, connect: Connect, issuer: Issuer
) -> None:
    # The verifier's leeway is 5 s: a token 4 s past "exp" is still accepted at the handshake.
    user = issuer.user("client", ttl_s=-4)
    sock = await connect(messaging, user)
    started = time.perf_counter()
    assert await sock.closed(wait_s=5) == 4401
    assert time.perf_counter() - started < 2


async def test_s3_revoking_a_session_closes_its_sockets_on_both_replicas_within_1s(
    start_messaging: StartApp, connect: Connect, issuer: Issuer, nats_server: NatsServer
) -> None:
    a, b = await start_messaging(), await start_messaging()
    user = issuer.user("client")
    other_session = issuer.user("client", user_id=user.id)  # same user, another session
    doomed = [await connect(a, user), await connect(b, user), await connect(b, user, query=True)]
    spared = await connect(a, other_session)
    for sock in [*doomed, spared]:
        await sock.send({"type": "ping"})
        await sock.until("pong")

    nc = await nats.connect(nats_server.url)
    try:
        event = SessionRevokedV1(
            user_id=user.id,
            session_id=user.session_id,
            revoked_at=datetime.now(UTC),
            reason="logout",
        )
        envelope = Envelope.of(event, "auth")
        started = time.perf_counter()
        await nc.jetstream().publish(envelope.subject, envelope.to_bytes())
        codes = await asyncio.gather(*(s.closed(wait_s=3) for s in doomed))
        elapsed = time.perf_counter() - started
    finally:
        await nc.close()
    print(f"\nS3: 3 sockets on 2 replicas closed {elapsed * 1000:.0f} ms after the revocation")
    assert codes == [4401, 4401, 4401]
    assert elapsed < 1.0
    await spared.send({"type": "ping"})
    assert (await spared.until("pong"))["type"] == "pong"
