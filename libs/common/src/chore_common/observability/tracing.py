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
import weakref
from typing import TYPE_CHECKING, Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
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
_SAMPLED: Final = trace.TraceFlags(trace.TraceFlags.SAMPLED)


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
    """True when spans go somewhere. When not, the HTTP middleware only mints ids (below)."""
    return _exporting[0]


def ids_only_span(parent: Context | None) -> trace.Span:
    """A span that carries ids but records nothing: the server span when nothing exports.

    The SDK would build, time and attribute a full span (~15 µs) only to drop it for want of
    an exporter. This keeps what matters without one: the trace id (the caller's, from
    `traceparent`, or a new one) for log lines, and a span id that outgoing calls and
    published events carry on as their parent.
    """
    caller = trace.get_current_span(parent).get_span_context() if parent else None
    if caller is not None and caller.is_valid:
        trace_id, flags = caller.trace_id, caller.trace_flags
    else:
        trace_id = random.getrandbits(128) or 1
        # Sampled, so a downstream service that does export still records its part.
        flags = _SAMPLED
    # Ids need uniqueness, not secrecy: the module's generator (reseeded after fork) spares
    # an urandom syscall per request.
    span_id = random.getrandbits(64) or 1
    return trace.NonRecordingSpan(
        trace.SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags)
    )


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
