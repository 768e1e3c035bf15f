"""What every service reports about itself: traces, metrics, access lines. One door.

- `telemetry.requests`: the middleware every app starts with (request id, SERVER span,
  metric, access line), `request_id()`, `set_request_id_header()`, `Draining`.
- `telemetry.tracing`: OpenTelemetry's SDK from the `OTEL_*` variables; `tracer()` for
  modules that start spans of their own (bus, relay, consumers), `inject`/`extract` for
  trace context in headers, `log_ids()` for log lines.
- `telemetry.metrics`: the Prometheus metrics every service has, `/metrics` rendering,
  event-loop lag, pool gauges.
- `telemetry.access_log`: the `http.request` lines, written in batches.
- `telemetry.logs`: JSON log lines with request and trace ids, secrets redacted;
  `configure_logging`, `request_id_var`.

Everything else calls these small APIs; no other module starts a server span, parses a
`traceparent` or formats an access line.
"""
