"""OpenTelemetry set-up from the standard `OTEL_*` variables.

- `OTEL_SDK_DISABLED=true`: nothing is traced; log lines carry no trace ids.
- `OTEL_TRACES_EXPORTER`: `none` (our default: spans exist, so ids reach logs and travel on
  outgoing calls and events, but nothing is exported), `console`, or `otlp` (HTTP/protobuf;
  `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`, ... are read by the exporter).
- `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` override or extend the resource.

Incoming HTTP spans come from the lean server middleware in `chore_common.http.middlewares`
(ADR 0001 says why not the contrib one); outgoing aiohttp client calls and SQLAlchemy
queries use the contrib instrumentations.
"""

from __future__ import annotations

import logging
import os
import random
import re
import weakref
from contextvars import ContextVar
from typing import TYPE_CHECKING, Final

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

TRACER_NAME: Final = "chore"
_state: dict[str, TracerProvider | None] = {"provider": None}
_exporting: list[bool] = [False]
_enabled: list[bool | None] = [None]
_TRACER = trace.get_tracer(TRACER_NAME)  # a proxy until configure_tracing installs the SDK
_traced: weakref.WeakSet[object] = weakref.WeakSet()
TRACEPARENT: Final = "traceparent"


def tracer() -> trace.Tracer:
    """The platform's tracer, for modules that start their own spans (bus, relay, consumers)."""
    return _TRACER


def is_enabled() -> bool:
    """False under `OTEL_SDK_DISABLED=true` (read once per process: it is asked per request)."""
    enabled = _enabled[0]
    if enabled is None:
        enabled = _enabled[0] = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"
    return enabled


def is_exporting() -> bool:
    """True when spans go somewhere. When not, spans are ids only (`new_ids`, below)."""
    return _exporting[0]


# (trace id: 32 hex digits, span id: 16 hex digits, flags: 2 hex digits), W3C's spelling.
TraceIds = tuple[str, str, str]
# The current ids-only span's ids (set by the HTTP middleware and consumers for their task;
# `set`/`reset` it directly: it is on every request's path).
CURRENT_IDS: ContextVar[TraceIds | None] = ContextVar("chore.trace_ids", default=None)
# W3C trace context, version 00 (or a later one read as 00, as the spec says to).
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16


def parse_traceparent(header: str | None) -> TraceIds | None:
    """The caller's (trace id, span id, flags), or None for a missing or malformed header.

    Hand-written rather than OTel's propagator, which builds a span context and a context
    dict per call: this runs on every request and only the three strings are needed.
    """
    if not header:
        return None
    m = _TRACEPARENT.fullmatch(header.strip())
    if m is None:
        return None
    version, trace_id, span_id, flags, rest = m.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return trace_id, span_id, flags


def new_ids(caller: TraceIds | None) -> TraceIds:
    """Ids for a span that records nothing: the caller's trace (or a new one) and a new span.

    When nothing exports, the SDK would build, time and attribute a full span only to drop
    it; this keeps what matters without one: the trace id for log lines, and a span id that
    outgoing calls and published events carry on as their parent. New traces are sampled, so
    a downstream service that does export still records its part. Ids need uniqueness, not
    secrecy: the module's generator (reseeded after fork) spares an urandom syscall.
    """
    span_id = random_hex(8)
    if caller is not None:
        return caller[0], span_id, caller[2]
    return random_hex(16), span_id, "01"


def random_hex(size: int) -> str:
    """`size` random bytes as lower-case hex, never all zeros (an invalid W3C id).

    `int.to_bytes().hex()` rather than an f-string's `:032x`: the format spec is parsed on
    every call, which made it 2.5 times slower, and this runs several times per request.
    """
    return (random.getrandbits(size * 8) or 1).to_bytes(size, "big").hex()


def server_ids(traceparent_header: str | None) -> TraceIds:
    """`new_ids` for an incoming request or message with this `traceparent` (or none)."""
    return server_ids_and_request_id(traceparent_header)[1]


def server_ids_and_request_id(traceparent_header: str | None) -> tuple[str, TraceIds]:
    """A new request id (32 hex digits) and `server_ids(traceparent_header)`: the caller's
    trace (or a new one) and a new span, all from one draw of the generator instead of
    three, since an incoming request needs all three ids."""
    drawn = random.getrandbits(320).to_bytes(40, "big").hex()
    request_id, trace_id, span_id = drawn[:32], drawn[32:64], drawn[64:]
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:  # invalid in W3C; 1 in 2**64
        trace_id, span_id = random_hex(16), random_hex(8)
    caller = parse_traceparent(traceparent_header) if traceparent_header else None
    if caller is None:
        return request_id, (trace_id, span_id, "01")
    return request_id, (caller[0], span_id, caller[2])


def current_ids() -> TraceIds | None:
    """The current span's ids: the ids-only span's when one is set, else OTel's current span
    (exporting, or code that started its own), else None."""
    ids = CURRENT_IDS.get()
    if ids is not None:
        return ids
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", f"{ctx.trace_flags:02x}"


def traceparent(ids: TraceIds) -> str:
    return f"00-{ids[0]}-{ids[1]}-{ids[2]}"


def inject(headers: dict[str, str]) -> None:
    """Put the current span's trace context into `headers` (events, outbox rows, calls)."""
    ids = CURRENT_IDS.get()
    if ids is None:
        propagate.inject(headers)
    else:
        headers[TRACEPARENT] = traceparent(ids)


def _exporter(name: str) -> SpanExporter | None:
    if name in ("", "none"):
        return None
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: expected none, console or otlp")


def configure_tracing(service: str) -> None:
    """Install the SDK tracer provider once per process, and the client instrumentations."""
    if _state["provider"] is not None or not is_enabled():
        return
    resource = Resource.create({SERVICE_NAME: service})
    provider = TracerProvider(resource=resource)
    names = os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    for name in filter(None, (n.strip() for n in names.split(","))):
        exporter = _exporter(name)
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _state["provider"] = provider
    _exporting[0] = any(n not in ("", "none") for n in names.split(","))

    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    AioHttpClientInstrumentor().instrument()
    log.info("tracing.configured", extra={"exporter": names})


def add_span_processor(processor: SpanProcessor) -> None:
    """Send spans somewhere besides the `OTEL_TRACES_EXPORTER`s (an in-memory exporter in
    tests, a custom one): from now on spans are full SDK spans, not ids only."""
    provider = _state["provider"]
    if provider is None:
        raise RuntimeError("configure_tracing() first (and not under OTEL_SDK_DISABLED)")
    provider.add_span_processor(processor)
    _exporting[0] = True


def shutdown_tracing() -> None:
    """Flush spans still queued for export (called on the way out of the telemetry ctx)."""
    provider = _state["provider"]
    if provider is not None:
        provider.force_flush(timeout_millis=2000)


def instrument_engine(engine: AsyncEngine) -> None:
    """Trace every query of `engine` (the DB module calls this after creating it)."""
    if _state["provider"] is None or engine.sync_engine in _traced:
        return
    if not is_exporting():
        # Query spans would be built and dropped: ~10 % of a write request's CPU on SQLite
        # (profiled), for nothing. The request span still gives the logs their ids.
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    instrumentor = SQLAlchemyInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        # The instrumentor traces only the engine given on its first call; later engines
        # get their own tracer object the same way the instrumentor builds one.
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.metrics import get_meter

        usage = get_meter(TRACER_NAME).create_up_down_counter("db.client.connections.usage")
        EngineTracer(trace.get_tracer(TRACER_NAME), engine.sync_engine, usage)  # type: ignore[no-untyped-call]
    else:
        # SQLAlchemy 2.1 is newer than the instrumentation's declared range; its hooks (engine
        # events) are unchanged, so skip the version check rather than log an error per start.
        instrumentor.instrument(engine=engine.sync_engine, skip_dep_check=True)
    _traced.add(engine.sync_engine)
