"""A tiny test-only service for the bus tests: one event type, one table it applies to,
and the relay and consumer as processes a test can SIGKILL.

    python tests/common/busapp.py relay --db URL --nats URL
    python tests/common/busapp.py consumer --db URL --nats URL --durable NAME [--die-after-commit]

Each prints "ready" once running, so a test knows when a kill lands mid-work.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import ClassVar

from nats.aio.client import Client as NATS
from sqlalchemy import Column, Integer, String, Table, Uuid, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.bus.connection import connect
from chore_common.bus.consumer import Consumer, ConsumerSpec
from chore_common.bus.streams import ensure_streams
from chore_common.contracts.envelope import Envelope
from chore_common.contracts.registry import Contract
from chore_common.db import create_engine, new_metadata
from chore_common.inbox import add_inbox_table
from chore_common.outbox.relay import Relay
from chore_common.outbox.table import add_outbox_table
from chore_common.uow import UnitOfWork

metadata = new_metadata()
add_outbox_table(metadata)
add_inbox_table(metadata)
APPLIED = Table(
    "applied",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False),  # deliberately not unique: doubles must show
    Column("consumer", String(64), nullable=False),
    Column("n", Integer, nullable=False),
)


class PingedV1(Contract):
    """Test-only; deliberately not registered, so it stays out of docs/asyncapi.yaml."""

    TYPE: ClassVar = "tasks.test.pinged"
    VERSION: ClassVar = 1
    n: int


class PingedV2(Contract):
    TYPE: ClassVar = "tasks.test.pinged"
    VERSION: ClassVar = 2
    n: int
    note: str


async def create_schema(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


async def write_pings(
    engine: AsyncEngine,
    count: int,
    *,
    per_tx: int = 1,
    start: int = 0,
    wake: Callable[[], None] | None = None,
    pause_s: float = 0.0,
) -> None:
    """Commit `count` PingedV1 events through the outbox, `per_tx` per transaction."""
    n = start
    while n < start + count:
        async with UnitOfWork(engine, producer="tasks", wake_relay=wake) as uow:
            for _ in range(min(per_tx, start + count - n)):
                uow.outbox.add(PingedV1(n=n))
                n += 1
            await uow.commit()
        if pause_s:
            await asyncio.sleep(pause_s)


async def record(envelope: Envelope, payload: PingedV1, uow: UnitOfWork) -> None:
    """The handler: one row in `applied` per application, in the consumer's transaction."""
    await uow.conn.execute(
        insert(APPLIED).values(event_id=envelope.id, consumer=uow.consumer, n=payload.n)
    )


async def applied(engine: AsyncEngine) -> tuple[int, int]:
    """(rows, distinct event ids) in `applied`: equal when nothing was applied twice."""
    async with engine.connect() as conn:
        rows, distinct = (
            await conn.execute(select(func.count(), func.count(APPLIED.c.event_id.distinct())))
        ).one()
    return int(rows), int(distinct)


async def wait_until(
    probe: Callable[[], Awaitable[bool]], timeout_s: float = 15.0, every_s: float = 0.05
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await probe():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(every_s)


def spec(durable: str, **overrides: object) -> ConsumerSpec:
    options: dict[str, object] = {
        "stream": "TASKS",
        "durable": durable,
        "subjects": ("tasks.test.>",),
        "ack_wait_s": 2.0,
        "backoff_s": (0.1, 0.2, 0.4),
        "idle_fetch_s": 1.0,
    }
    options.update(overrides)
    return ConsumerSpec(**options)  # type: ignore[arg-type]


def consumer(js: object, engine: AsyncEngine, durable: str, **overrides: object) -> Consumer:
    made = Consumer(js, spec(durable, **overrides), lambda: UnitOfWork(engine))  # type: ignore[arg-type]
    made.on(PingedV1, record)
    return made


async def _main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["relay", "consumer"])
    p.add_argument("--db", required=True)
    p.add_argument("--nats", required=True)
    p.add_argument("--durable", default="busapp")
    p.add_argument("--ack-wait", type=float, default=2.0)
    p.add_argument("--die-after-commit", action="store_true")
    p.add_argument("--wait-for-go", action="store_true")
    args = p.parse_args(argv)
    if args.wait_for_go:
        print("loaded", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
    engine = create_engine(args.db)
    nc = await connect(args.nats, name=f"busapp-{args.mode}")
    js = nc.jetstream()
    await ensure_streams(js)
    if args.mode == "relay":
        relay = Relay(engine, js, service="tasks", batch_size=200, poll_interval_s=0.05)
        task = relay.start()
        print(f"ready {os.getpid()}", flush=True)
        await task
        return
    made = Consumer(js, spec(args.durable, ack_wait_s=args.ack_wait), lambda: UnitOfWork(engine))

    async def record_then_die(envelope: Envelope, payload: PingedV1, uow: UnitOfWork) -> None:
        await record(envelope, payload, uow)

        async def die() -> None:
            # Committed, not yet acked: the worst moment for a crash.
            os.kill(os.getpid(), signal.SIGKILL)

        uow.after_commit(die)

    made.on(PingedV1, record_then_die if args.die_after_commit else record)
    task = made.start()
    print("ready", flush=True)
    await task


# -- test plumbing --------------------------------------------------------------------


class Bus:
    """A NATS client with the streams provisioned, and an engine with the test schema."""

    def __init__(self, nc: NATS, engine: AsyncEngine, nats_url: str, db_url: str) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.engine = engine
        self.nats_url = nats_url
        self.db_url = db_url


@asynccontextmanager
async def open_bus(nats_url: str, db_url: str) -> AsyncIterator[Bus]:
    engine = create_engine(db_url)
    await create_schema(engine)
    nc = await connect(nats_url, name="test", reconnect_wait_s=0.1)
    await ensure_streams(nc.jetstream())
    try:
        yield Bus(nc, engine, nats_url, db_url)
    finally:
        await nc.close()
        await engine.dispose()


class Proc:
    """busapp.py run as a separate process, started and SIGKILLed by a test.

    `spawn()` pays the interpreter start and imports (a second or more here) and leaves the
    process waiting; `go()` then starts its work at once. A test spawns the next relay
    while the current one runs, so a restart after a kill takes milliseconds.
    """

    def __init__(self, *args: str) -> None:
        self.args = [__file__, *args, "--wait-for-go"]
        self.process: asyncio.subprocess.Process | None = None

    async def spawn(self, timeout_s: float = 30.0) -> Proc:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            *self.args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await self._expect(b"loaded", timeout_s)
        return self

    async def go(self, timeout_s: float = 10.0) -> Proc:
        assert self.process is not None
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        await self.process.stdin.drain()
        await self._expect(b"ready", timeout_s)
        return self

    async def start(self) -> Proc:
        await self.spawn()
        return await self.go()

    async def _expect(self, word: bytes, timeout_s: float) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout_s)
        assert line.split()[0] == word, f"busapp {self.args[1]}: expected {word!r}, got {line!r}"

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout_s)


class Zygote:
    """A process that has imported everything once and forks relays on demand.

    Interpreter start-up takes seconds on a busy machine; a fork takes milliseconds, so a
    test can SIGKILL a relay process and have the next one running at once.
    """

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, timeout_s: float = 60.0) -> Zygote:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "zygote",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout_s)
        assert line.strip() == b"loaded"
        return self

    async def fork(self, *args: str, timeout_s: float = 10.0) -> int:
        """Start `busapp.py <args>` as a forked child; returns its pid once it is ready."""
        assert self.process is not None
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write((" ".join(args) + "\n").encode())
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout_s)
        word, pid = line.split()
        assert word == b"ready"
        return int(pid)

    @staticmethod
    async def kill(pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        while True:  # the zygote reaps it (SIGCHLD ignored); wait until it is gone
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


def _zygote() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped without waiting
    print("loaded", flush=True)
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            asyncio.run(_main(line.split()))
            os._exit(0)


if __name__ == "__main__":
    if sys.argv[1:] == ["zygote"]:
        _zygote()
    else:
        asyncio.run(_main(sys.argv[1:]))
