"""A stream's history for whoever arrives late: a new durable consumer that starts where
asked (the first event, a time, a sequence), or a one-off republish of past events onto
another subject. `chore-events new-consumer` and `chore-events replay` call these;
docs/events.md "A new subscriber" shows both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Final

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy

REPLAY_STREAM_HEADER: Final = "Chore-Replayed-From"
REPLAY_SEQ_HEADER: Final = "Chore-Replayed-Seq"
_FETCH_BATCH: Final = 256


@dataclass(frozen=True)
class Start:
    """Where a consumer starts: the first event (`start`), a sequence or a time."""

    seq: int | None = None
    time: datetime | None = None

    @classmethod
    def parse(cls, text: str) -> Start:
        """`start`, a stream sequence (`1200`), or an ISO date or time (`2026-01-01`,
        `2026-01-01T12:00:00+00:00`; a naive one is UTC)."""
        if text == "start":
            return cls()
        if text.isdigit():
            return cls(seq=max(1, int(text)))
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            when = datetime.combine(date.fromisoformat(text), datetime.min.time())
        return cls(time=when if when.tzinfo else when.replace(tzinfo=UTC))

    def apply(self, config: ConsumerConfig) -> ConsumerConfig:
        """`config` with the deliver policy (and start) this stands for."""
        if self.seq is not None:
            return replace(
                config, deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.seq
            )
        if self.time is not None:
            return replace(
                config, deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=self.time
            )
        return replace(config, deliver_policy=DeliverPolicy.ALL)


async def create_consumer(
    js: JetStreamContext,
    *,
    stream: str,
    durable: str,
    start: Start,
    filter_subject: str | None = None,
    max_ack_pending: int = 1000,
) -> ConsumerInfo:
    """A durable pull consumer with explicit acks, delivering from `start` on. Asking again
    with the same settings changes nothing; with another start the server refuses (it never
    moves a durable consumer's position: delete it first)."""
    config = start.apply(
        ConsumerConfig(
            durable_name=durable,
            name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject=filter_subject,
            max_ack_pending=max_ack_pending,
        )
    )
    return await js.add_consumer(stream, config)


async def replay_history(
    js: JetStreamContext,
    *,
    stream: str,
    since: Start,
    to: str,
    filter_subject: str | None = None,
    fetch_timeout_s: float = 2.0,
) -> int:
    """Republish the stream's events from `since` up to its last one now onto
    `<to>.<original subject>`, in order, each acknowledged by the stream that stores `to`
    (one must: JetStream refuses a subject no stream holds). Returns how many went."""
    last = (await js.stream_info(stream)).state.last_seq
    sub = await js.pull_subscribe(
        filter_subject or ">",
        stream=stream,
        config=since.apply(ConsumerConfig(ack_policy=AckPolicy.NONE, inactive_threshold=30.0)),
    )
    sent = 0
    try:
        while True:
            try:
                batch = await sub.fetch(_FETCH_BATCH, timeout=fetch_timeout_s)
            except TimeoutError:
                return sent  # nothing more from `since` (deleted or filtered out)
            for msg in batch:
                seq = msg.metadata.sequence.stream
                if seq > last:
                    return sent
                headers = {**(msg.headers or {}), REPLAY_STREAM_HEADER: stream}
                headers[REPLAY_SEQ_HEADER] = str(seq)
                await js.publish(f"{to}.{msg.subject}", msg.data, headers=headers)
                sent += 1
                if seq == last:
                    return sent
    finally:
        await sub.unsubscribe()
