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
import weakref
from typing import TYPE_CHECKING, Final

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

TRACER_NAME: Final = "chore"
_state: dict[str, TracerProvider | None] = {"provider": None}
_TRACER = trace.get_tracer(TRACER_NAME)  # a proxy until configure_tracing installs the SDK
_traced: weakref.WeakSet[object] = weakref.WeakSet()


def tracer() -> trace.Tracer:
    """The platform's tracer, for modules that start their own spans (bus, relay, consumers)."""
    return _TRACER


def is_enabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"


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
        instrumentor.instrument(engine=engine.sync_engine)
    _traced.add(engine.sync_engine)
