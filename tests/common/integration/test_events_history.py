"""`chore-events new-consumer` and `chore-events replay` over a real nats-server: a consumer
created after the events starts at the first one (or at a sequence or a time), and a replay
republishes the past, in order, onto another subject."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig

from chore_common.bus.cli import run
from chore_common.bus.history import REPLAY_SEQ_HEADER, REPLAY_STREAM_HEADER
from chore_common.bus.streams import ensure_streams
from chore_common.testing.nats import NatsServer


@pytest.fixture
async def server(nats_factory: Callable[[], NatsServer]) -> NatsServer:
    return nats_factory()


@pytest.fixture
async def nc(server: NatsServer) -> AsyncIterator[NATS]:
    client = await nats.connect(server.url)
    await ensure_streams(client.jetstream())
    for n in range(1, 21):
        subject = "tasks.task.created" if n % 2 else "tasks.offer.created"
        await client.jetstream().publish(subject, f"{n}".encode(), headers={"Nats-Msg-Id": f"{n}"})
    yield client
    await client.close()


async def cli(server: NatsServer, *argv: str) -> str:
    out = io.StringIO()
    assert await run(["--nats-url", server.url, *argv], out=out) == 0
    return out.getvalue()


async def drain(nc: NATS, durable: str) -> list[tuple[int, bytes]]:
    sub = await nc.jetstream().pull_subscribe_bind(durable, stream="TASKS")
    got: list[tuple[int, bytes]] = []
    while True:
        try:
            batch = await sub.fetch(50, timeout=0.5)
        except TimeoutError:
            return got
        for msg in batch:
            got.append((msg.metadata.sequence.stream, msg.data))
            await msg.ack()


async def test_a_new_consumer_starts_at_the_first_event(server: NatsServer, nc: NATS) -> None:
    said = await cli(server, "new-consumer", "--stream", "TASKS", "--durable", "search")
    assert "consumer search on TASKS: from start, 20 events waiting" in said
    got = await drain(nc, "search")
    assert [seq for seq, _ in got] == list(range(1, 21))


async def test_an_existing_consumer_is_never_moved(server: NatsServer, nc: NATS) -> None:
    await cli(server, "new-consumer", "--stream", "TASKS", "--durable", "kept")
    assert len(await drain(nc, "kept")) == 20
    again = await cli(server, "new-consumer", "--stream", "TASKS", "--durable", "kept")
    assert "0 events waiting" in again  # the same request: nothing changes
    out = io.StringIO()
    argv = ["--nats-url", server.url, "new-consumer", "--stream", "TASKS", "--durable", "kept"]
    assert await run([*argv, "--from", "5"], out=out) == 1
    assert out.getvalue().startswith("refused: ")


async def test_a_new_consumer_from_a_sequence_with_a_filter(server: NatsServer, nc: NATS) -> None:
    await cli(
        server, "new-consumer", "--stream", "TASKS", "--durable", "late",
        "--from", "11", "--filter", "tasks.task.created",
    )  # fmt: skip
    assert [seq for seq, _ in await drain(nc, "late")] == [11, 13, 15, 17, 19]


async def test_a_new_consumer_from_a_time(server: NatsServer, nc: NATS) -> None:
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    said = await cli(server, "new-consumer", "--stream", "TASKS", "--durable", "t", "--from", later)
    assert "0 events waiting" in said
    earlier = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    await cli(server, "new-consumer", "--stream", "TASKS", "--durable", "d", "--from", earlier)
    assert len(await drain(nc, "d")) == 20


async def test_replay_republishes_history_in_order(server: NatsServer, nc: NATS) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="BACKFILL", subjects=["backfill.>"]))
    said = await cli(server, "replay", "--stream", "TASKS", "--since", "5", "--to", "backfill")
    assert said == "16 replayed from TASKS to backfill.>\n"
    sub = await js.pull_subscribe("backfill.>", stream="BACKFILL")
    msgs = await sub.fetch(16, timeout=2)
    assert [m.data for m in msgs] == [f"{n}".encode() for n in range(5, 21)]
    assert msgs[0].subject == "backfill.tasks.task.created"
    assert msgs[0].headers is not None
    assert msgs[0].headers[REPLAY_STREAM_HEADER] == "TASKS"
    assert msgs[0].headers[REPLAY_SEQ_HEADER] == "5"


async def test_replay_to_a_subject_no_stream_holds_is_refused(server: NatsServer, nc: NATS) -> None:
    out = io.StringIO()
    argv = ["replay", "--stream", "TASKS", "--since", "1", "--to", "nowhere"]
    assert await run(["--nats-url", server.url, *argv], out=out) == 1
    assert out.getvalue() == "refused: no stream holds nowhere.>; create one for it first\n"
