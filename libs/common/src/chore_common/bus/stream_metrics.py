"""JetStream gauges for the alert rules: how full each stream is, against its size cap.

Every storage service polls `stream_info` for the stream it owns (`TASKS` for tasks) and the
dead-letter stream, every `<SERVICE>_STREAM_METRICS_INTERVAL_S`, and sets the gauges below
(label `stream`). Several replicas report the same stream: the rules take `max by (stream)`.

JetStream's storage as a whole (`jetstream_storage_used_bytes`/`_limit_bytes` per server) is
not here: a client sees its account's usage, not the server's `max_file_store`; that needs the
server's monitoring port (`/jsz`) and an exporter beside NATS (docs/runbooks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence

from aiohttp import web
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from prometheus_client import Gauge

from chore_common.bus.streams import DLQ_STREAM, owned_stream
from chore_common.settings import ServiceSettings

log = logging.getLogger(__name__)

# One value per stream whichever worker read it last: every worker reads the same stream.
STREAM_MESSAGES = Gauge(
    "jetstream_stream_messages",
    "Messages the JetStream stream holds",
    ["stream"],
    multiprocess_mode="livemostrecent",
)
STREAM_BYTES = Gauge(
    "jetstream_stream_bytes",
    "Bytes the JetStream stream holds",
    ["stream"],
    multiprocess_mode="livemostrecent",
)
STREAM_MAX_BYTES = Gauge(
    "jetstream_stream_max_bytes",
    "The stream's size cap (max_bytes); -1 when it has none",
    ["stream"],
    multiprocess_mode="livemostrecent",
)
STREAM_MAX_AGE = Gauge(
    "jetstream_stream_max_age_seconds",
    "How long the stream keeps a message (max_age); 0 for ever",
    ["stream"],
    multiprocess_mode="livemostrecent",
)


async def observe_streams(js: JetStreamContext, streams: Sequence[str]) -> None:
    """Set the gauges from one `stream_info` per stream; a failing one keeps its last values."""
    for name in streams:
        try:
            info = await js.stream_info(name)
        except Exception as exc:  # NATS down or the stream not there yet: next round
            log.debug("bus.stream_info_failed", extra={"stream": name, "error": repr(exc)})
            continue
        STREAM_MESSAGES.labels(name).set(info.state.messages)
        STREAM_BYTES.labels(name).set(info.state.bytes)
        STREAM_MAX_BYTES.labels(name).set(info.config.max_bytes or -1)
        STREAM_MAX_AGE.labels(name).set(info.config.max_age or 0)


async def poll_streams(js: JetStreamContext, streams: Sequence[str], interval_s: float) -> None:
    while True:
        await observe_streams(js, streams)
        await asyncio.sleep(interval_s)


def stream_metrics_context(
    settings: ServiceSettings, nats: Callable[[web.Application], NATS]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx polling the service's own stream and the DLQ into the gauges."""
    own = owned_stream(settings.service_name)
    streams = (own, DLQ_STREAM) if own else (DLQ_STREAM,)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        js = nats(app).jetstream()
        task = asyncio.create_task(
            poll_streams(js, streams, settings.stream_metrics_interval_s),
            name="stream-metrics",
        )
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return ctx
