"""Tasks per category, from the TASKS stream's full history: what a new subscriber (billing,
search, analytics) does to build its state from events that happened before it existed.

    python examples/task_counts/task_counts.py [--nats-url URL] [--durable task-counts]

Needs only nats-py and the platform's published contracts (`chore_common.contracts`). It
creates its durable consumer on first run, starting at the stream's first event (or binds to
the one `chore-events new-consumer` made), applies every `tasks.task.created` in stream
order, acknowledges each, and once nothing is pending prints the counts as JSON. The counts
live in memory: a real subscriber keeps them in its own database, with each event's id in
its inbox in the same transaction (docs/events.md), and then keeps consuming.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections import Counter
from dataclasses import dataclass, field

import nats
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from chore_common.contracts.envelope import Envelope
from chore_common.contracts.tasks import TaskCreatedV1

STREAM = "TASKS"


@dataclass
class TaskCounts:
    """The subscriber's state: tasks per category, and the stream sequences it applied."""

    by_category: Counter[str] = field(default_factory=Counter)
    applied: list[int] = field(default_factory=list)

    def apply(self, seq: int, raw: bytes) -> None:
        envelope = Envelope.from_bytes(raw)
        if envelope.version != TaskCreatedV1.VERSION:
            raise ValueError(f"unknown version {envelope.version} at #{seq}: update me first")
        self.by_category[envelope.payload(TaskCreatedV1).category] += 1
        self.applied.append(seq)


async def ensure_consumer(js: JetStreamContext, durable: str) -> None:
    """The durable consumer, from the first event, if nobody made it yet (what
    `chore-events new-consumer --stream TASKS --durable NAME --filter tasks.task.created` does)."""
    try:
        await js.consumer_info(STREAM, durable)
    except NotFoundError:
        config = ConsumerConfig(
            durable_name=durable,
            deliver_policy=DeliverPolicy.ALL,  # the whole history, then whatever comes next
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject=TaskCreatedV1.TYPE,
        )
        await js.add_consumer(STREAM, config)


async def catch_up(js: JetStreamContext, durable: str, counts: TaskCounts) -> TaskCounts:
    """Fetch, apply and acknowledge until the consumer has nothing left pending."""
    sub = await js.pull_subscribe_bind(durable, stream=STREAM)
    try:
        while True:
            try:
                batch = await sub.fetch(500, timeout=2)
            except TimeoutError:
                return counts  # nothing at all was pending
            for msg in batch:
                counts.apply(msg.metadata.sequence.stream, msg.data)
                await msg.ack()
            if batch[-1].metadata.num_pending == 0:
                return counts
    finally:
        await sub.unsubscribe()


async def task_counts(nats_url: str, durable: str = "task-counts") -> TaskCounts:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_consumer(js, durable)
        return await catch_up(js, durable, TaskCounts())
    finally:
        await nc.drain()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nats-url", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    p.add_argument("--durable", default="task-counts", help="the consumer's name")
    args = p.parse_args()
    counts = asyncio.run(task_counts(args.nats_url, args.durable))
    print(json.dumps(dict(counts.by_category.most_common()), indent=2))


if __name__ == "__main__":
    main()
