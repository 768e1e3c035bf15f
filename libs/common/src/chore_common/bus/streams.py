"""Idempotent stream provisioning: one stream per producing service, plus dead letters.

Safe to run from every replica on every start. A stream's retention (max age, size cap) is
its owner's setting: the service that publishes it (`TASKS` is tasks') creates it or updates
an existing one to the configured limits, and leaves an equal one alone. Other services only
create a stream that is missing (so a consumer can start before the producer), never change
one: two services with different settings would otherwise undo each other on every start.
The dead-letter stream only ever grows its age (the longest any service asks for).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)

# JetStream drops a second message with the same Nats-Msg-Id within this window; the
# relay republishes rows whose PubAck it missed, well within it.
DUPLICATE_WINDOW_S: Final = 120.0
DLQ_STREAM: Final = "DLQ"
DLQ_PREFIX: Final = "dlq"
WEEK_S: Final = 7 * 24 * 3600
DLQ_MAX_AGE_S: Final = 30 * 24 * 3600
NO_LIMIT: Final = -1  # JetStream's "no size cap"


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]


@dataclass(frozen=True)
class Retention:
    """How long a stream keeps events, and its size cap (oldest discarded at the cap)."""

    max_age_s: float = WEEK_S
    max_bytes: int = NO_LIMIT


PRODUCER_STREAMS: Final = (
    StreamSpec("AUTH", ("auth.>",)),
    StreamSpec("TASKS", ("tasks.>",)),
    StreamSpec("MESSAGING", ("messaging.>",)),
)
DLQ_SPEC: Final = StreamSpec(DLQ_STREAM, (f"{DLQ_PREFIX}.>",))


def dlq_subject(stream: str) -> str:
    return f"{DLQ_PREFIX}.{stream}"


def owned_stream(service: str) -> str | None:
    """The producer stream a service owns (`tasks` -> `TASKS`), if it has one."""
    name = service.upper()
    return name if any(spec.name == name for spec in PRODUCER_STREAMS) else None


def stream_config(
    spec: StreamSpec, *, replicas: int, retention: Retention, duplicate_window_s: float
) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_age=retention.max_age_s,
        max_bytes=retention.max_bytes if retention.max_bytes > 0 else NO_LIMIT,
        duplicate_window=duplicate_window_s,
        discard=DiscardPolicy.OLD,
    )


def _differs(have: StreamConfig, wanted: StreamConfig) -> bool:
    return (
        sorted(have.subjects or []) != sorted(wanted.subjects or [])
        or have.num_replicas != wanted.num_replicas
        or have.max_age != wanted.max_age
        or (have.max_bytes or NO_LIMIT) != wanted.max_bytes
        or (have.duplicate_window or 0) < (wanted.duplicate_window or 0)
    )


async def ensure_stream(
    js: JetStreamContext,
    spec: StreamSpec,
    *,
    replicas: int = 1,
    retention: Retention = Retention(),
    duplicate_window_s: float = DUPLICATE_WINDOW_S,
    update: bool = True,
) -> None:
    """Create the stream if missing; with `update`, bring an existing one to these limits."""
    wanted = stream_config(
        spec,
        replicas=replicas,
        retention=retention,
        duplicate_window_s=max(duplicate_window_s, DUPLICATE_WINDOW_S),
    )
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(wanted)
        log.info("bus.stream_created", extra={"stream": spec.name})
        return
    if update and _differs(info.config, wanted):
        await js.update_stream(wanted)
        log.info(
            "bus.stream_updated",
            extra={
                "stream": spec.name,
                "max_age_s": retention.max_age_s,
                "max_bytes": wanted.max_bytes,
            },
        )


async def ensure_streams(
    js: JetStreamContext,
    *,
    replicas: int = 1,
    max_age_s: float = WEEK_S,
    max_bytes: int = NO_LIMIT,
    owner: str | None = None,
    dlq_max_age_s: float = DLQ_MAX_AGE_S,
) -> None:
    """Every producer stream and the dead-letter stream. With `owner` (a stream name, or a
    service that owns none), only that stream is brought to these limits and the others are
    created when missing; without it (tools, tests) every stream is."""
    retention = Retention(max_age_s=max_age_s, max_bytes=max_bytes)
    for spec in PRODUCER_STREAMS:
        mine = owner is None or spec.name == owner
        await ensure_stream(js, spec, replicas=replicas, retention=retention, update=mine)
    # Dead letters wait for an operator: keep them longer than the events themselves, and
    # never shorten them from a service whose own events are kept less long.
    await _ensure_dlq(js, replicas=replicas, max_age_s=max(dlq_max_age_s, max_age_s))


async def _ensure_dlq(js: JetStreamContext, *, replicas: int, max_age_s: float) -> None:
    try:
        have = (await js.stream_info(DLQ_STREAM)).config.max_age or 0
    except NotFoundError:
        have = 0
    longest = Retention(max_age_s=max(have, max_age_s))
    await ensure_stream(js, DLQ_SPEC, replicas=replicas, retention=longest)
