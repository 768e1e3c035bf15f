"""Idempotent stream provisioning: one stream per producing service, plus dead letters.

Safe to run from every replica on every start: a missing stream is created, an existing
one is updated to the configured limits (replicas, max age), an equal one is left alone.
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


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]


PRODUCER_STREAMS: Final = (
    StreamSpec("AUTH", ("auth.>",)),
    StreamSpec("TASKS", ("tasks.>",)),
    StreamSpec("MESSAGING", ("messaging.>",)),
)
DLQ_SPEC: Final = StreamSpec(DLQ_STREAM, (f"{DLQ_PREFIX}.>",))


def dlq_subject(stream: str) -> str:
    return f"{DLQ_PREFIX}.{stream}"


def stream_config(
    spec: StreamSpec, *, replicas: int, max_age_s: float, duplicate_window_s: float
) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_age=max_age_s,
        duplicate_window=duplicate_window_s,
        discard=DiscardPolicy.OLD,
    )


async def ensure_stream(
    js: JetStreamContext,
    spec: StreamSpec,
    *,
    replicas: int = 1,
    max_age_s: float = 7 * 24 * 3600,
    duplicate_window_s: float = DUPLICATE_WINDOW_S,
) -> None:
    wanted = stream_config(
        spec,
        replicas=replicas,
        max_age_s=max_age_s,
        duplicate_window_s=max(duplicate_window_s, DUPLICATE_WINDOW_S),
    )
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(wanted)
        log.info("bus.stream_created", extra={"stream": spec.name})
        return
    have = info.config
    if (
        sorted(have.subjects or []) != sorted(spec.subjects)
        or have.num_replicas != replicas
        or have.max_age != wanted.max_age
        or (have.duplicate_window or 0) < (wanted.duplicate_window or 0)
    ):
        await js.update_stream(wanted)
        log.info("bus.stream_updated", extra={"stream": spec.name})


async def ensure_streams(
    js: JetStreamContext,
    *,
    replicas: int = 1,
    max_age_s: float = 7 * 24 * 3600,
    dlq_max_age_s: float = 30 * 24 * 3600,
) -> None:
    """Every producer stream and the dead-letter stream, as configured."""
    for spec in PRODUCER_STREAMS:
        await ensure_stream(js, spec, replicas=replicas, max_age_s=max_age_s)
    # Dead letters wait for an operator: keep them longer than the events themselves.
    await ensure_stream(js, DLQ_SPEC, replicas=replicas, max_age_s=max(dlq_max_age_s, max_age_s))
