"""OpenTelemetry's SDK, configured by the standard `OTEL_*` variables as the spec defines them.

- `OTEL_SDK_DISABLED=true`: no SDK; spans are the API's no-ops, log lines carry no trace ids.
- `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) names the service;
  the code's name is only the default when neither is set.
- `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`: read by the SDK itself (default
  `parentbased_always_on`; the prod overlay sets `parentbased_traceidratio` and a ratio). A
  span that is not sampled is the SDK's non-recording span: it still has ids for log lines
  and for the `traceparent` sent on, and costs little.
- `OTEL_TRACES_EXPORTER`: `otlp`, `console`, `none`, or several, comma-separated. Unset, it
  is `otlp` when an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT` or
  `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) and `none` otherwise: the spec's default (`otlp` to
  localhost:4318) would make every service started by hand log export errors. The OTLP
  exporter reads its own variables (endpoint, headers, timeout, ...).
- `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf`
  (default; the exporter this kit depends on) or `grpc` (when the package
  `opentelemetry-exporter-otlp-proto-grpc` is installed; a clear error at start otherwise).
- `OTEL_PROPAGATORS` (default W3C `tracecontext,baggage`) and `OTEL_BSP_*` are the SDK's.

Spans: incoming HTTP requests (`chore_common.telemetry.requests`), outgoing aiohttp client
calls and SQLAlchemy statements (the contrib instrumentations, installed here), the outbox
relay's publishes and each consumer's handling (`chore_common.bus`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping
from typing import Final

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

log = logging.getLogger(__name__)

TRACER_NAME: Final = "chore"
TRACEPARENT: Final = "traceparent"
# A proxy until configure_tracing installs the SDK (it then hands out the SDK's tracer).
_tracer: list[trace.Tracer] = [trace.get_tracer(TRACER_NAME)]
_provider: list[TracerProvider] = []


class TracingConfigError(ValueError):
    """An `OTEL_*` variable asks for something this build cannot do."""


def tracer() -> trace.Tracer:
    """The platform's tracer, for the modules that start spans of their own."""
    return _tracer[0]


def is_disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def inject(headers: MutableMapping[str, str], context: Context | None = None) -> None:
    """Write the trace context (the current span's, or `context`'s) into `headers`."""
    propagate.inject(headers, context)


def extract(headers: Mapping[str, str] | None) -> Context:
    """The trace context a caller sent in `headers` (empty when there is none)."""
    return propagate.extract(headers or {})


def log_ids() -> tuple[str, str] | None:
    """The current span's (trace id, span id) in W3C hex, for log lines; None outside one."""
    return span_ids(trace.get_current_span())


def span_ids(span: trace.Span) -> tuple[str, str] | None:
    """`span`'s (trace id, span id) in W3C hex; None for an invalid span, and without the
    SDK (the API alone hands the caller's context on, but this process traces nothing)."""
    context = span.get_span_context()
    if not context.is_valid or not _provider:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def _service_name_from_env() -> bool:
    if os.environ.get("OTEL_SERVICE_NAME", "").strip():
        return True
    attributes = os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    return any(a.split("=", 1)[0].strip() == SERVICE_NAME for a in attributes.split(","))


def _exporter_names() -> list[str]:
    names = os.environ.get("OTEL_TRACES_EXPORTER")
    if names is None:
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        names = "otlp" if endpoint else "none"
    return [n.strip().lower() for n in names.split(",") if n.strip()]


def _otlp_exporter() -> SpanExporter:
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter as GrpcSpanExporter,
            )
        except ImportError:
            raise TracingConfigError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the package "
                "opentelemetry-exporter-otlp-proto-grpc; use http/protobuf or install it"
            ) from None
        exporter: SpanExporter = GrpcSpanExporter()
        return exporter
    raise TracingConfigError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: expected http/protobuf or grpc"
    )


def _exporter(name: str) -> SpanExporter | None:
    if name == "none":
        return None
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        return _otlp_exporter()
    raise TracingConfigError(f"OTEL_TRACES_EXPORTER={name!r}: expected otlp, console or none")


def check_environment() -> None:
    """Raise `TracingConfigError` for `OTEL_*` values this build cannot honour, before a
    service starts (`serving` turns it into one line naming the variable)."""
    if not is_disabled():
        for name in _exporter_names():
            if name not in ("none", "console", "otlp"):
                raise TracingConfigError(
                    f"OTEL_TRACES_EXPORTER={name!r}: expected otlp, console or none"
                )
            if name == "otlp":
                _otlp_exporter()


def configure_tracing(service: str) -> None:
    """Install the SDK's tracer provider once per process, then the client instrumentations
    (aiohttp client calls, SQLAlchemy statements). Does nothing under OTEL_SDK_DISABLED."""
    if _provider or is_disabled():
        return
    names = _exporter_names()
    exporters = [e for e in map(_exporter, names) if e is not None]  # errors before any state
    resource = Resource.create({} if _service_name_from_env() else {SERVICE_NAME: service})
    provider = TracerProvider(resource=resource)  # sampler from OTEL_TRACES_SAMPLER(_ARG)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _provider.append(provider)
    _tracer[0] = provider.get_tracer(TRACER_NAME)
    _instrument_libraries(provider)
    log.info(
        "tracing.configured",
        extra={"exporters": names, "sampler": os.environ.get("OTEL_TRACES_SAMPLER", "default")},
    )


def _instrument_libraries(provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    AioHttpClientInstrumentor().instrument(tracer_provider=provider)
    from chore_common.telemetry.sqlalchemy_spans import instrument_sqlalchemy

    instrument_sqlalchemy(provider)


def add_span_processor(processor: SpanProcessor) -> None:
    """Send spans somewhere besides the configured exporters (an in-memory exporter in
    tests, an OTLP receiver in the bench)."""
    if not _provider:
        raise RuntimeError("configure_tracing() first (and not under OTEL_SDK_DISABLED)")
    _provider[0].add_span_processor(processor)


def shutdown_tracing() -> None:
    """Flush spans still queued for export (on the way out of the telemetry context)."""
    if _provider:
        _provider[0].force_flush(timeout_millis=2000)
