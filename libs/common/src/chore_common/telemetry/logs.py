"""JSON log lines on stdout, with request and trace ids from context, and secrets redacted.

`log.info("offer.accepted", extra={"task_id": ...})` prints one line:
`{"ts": ..., "level": "info", "service": "tasks", "event": "offer.accepted", "logger": ...,
"request_id": ..., "trace_id": ..., "span_id": ..., "task_id": ...}`.

Requests of the health checks and of the metrics scrape (`PROBE_ROUTES`) come every second or
so from each prober: `configure_logging(..., access_log_probes=False)` (what `serve` does by
default) leaves them out of the access log unless they fail (5xx).

Redaction works on keys, not values: any field whose name looks like a credential
(`authorization`, `password`, `access_token`, `client_secret`, ...) is printed as
"[redacted]", however deep it sits in dicts and lists. Values are never scanned, so the
rule is: put secrets in named fields or nowhere, never inside the event text.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Final, TextIO

from chore_common.telemetry.tracing import log_ids

request_id_var: ContextVar[str | None] = ContextVar("chore_request_id", default=None)
# Set only while a line is logged on behalf of a request that has ended (its access line):
# that request's (trace id, span id), where the current span would be another one.
_ended_request_ids: ContextVar[tuple[str, str] | None] = ContextVar(
    "chore_ended_request_ids", default=None
)

REDACTED: Final = "[redacted]"
_SENSITIVE = re.compile(r"authorization|cookie|password|passwd|secret|token|api[_-]?key", re.I)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(
    [*logging.LogRecord("", 0, "", 0, "", None, None).__dict__, "message", "asctime", "taskName"]
)


# Routes of the probes and the scrape: many a second, the same answer each time.
PROBE_ROUTES: Final = frozenset({"/healthz", "/readyz", "/metrics"})
# The routes whose successful requests are not access-logged (see configure_logging).
_unlogged_routes: list[frozenset[str]] = [frozenset()]


def unlogged_routes() -> frozenset[str]:
    """Routes whose requests get an access line only when answered 5xx."""
    return _unlogged_routes[0]


_sensitive_keys: dict[str, bool] = {}
_SCALARS = (str, int, float, bool, type(None))


def is_sensitive(key: str) -> bool:
    # Keys come from a small fixed set (code, not data), so the verdict is cached.
    verdict = _sensitive_keys.get(key)
    if verdict is None:
        verdict = _SENSITIVE.search(key) is not None
        if len(_sensitive_keys) < 4096:
            _sensitive_keys[key] = verdict
    return verdict


def redact(value: Any) -> Any:
    """A copy of `value` with every sensitive key's value replaced, recursively."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return {str(k): REDACTED if is_sensitive(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per record. Built for the access log's rate: the encoder is made
    once, and the timestamp's seconds part is formatted once per second."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self._encoder = json.JSONEncoder(default=str, ensure_ascii=False, separators=(",", ":"))
        self._second = -1
        self._second_text = ""
        self._millis = -1
        self._millis_text = ""

    def timestamp(self, created: float) -> str:
        """`created` (unix time) as `2026-12-06T08:07:24.123Z`."""
        # Busy services write several lines a millisecond: the text is made once per ms.
        millis = int(created * 1000)
        if millis == self._millis:
            return self._millis_text
        second = millis // 1000
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        self._millis = millis
        self._millis_text = f"{self._second_text}.{millis % 1000:03d}Z"
        return self._millis_text

    def head(self, created: float, level: str, event: str, logger: str) -> dict[str, Any]:
        line: dict[str, Any] = {
            "ts": self.timestamp(created),
            "level": level,
            "service": self.service,
            "event": event,
            "logger": logger,
            "request_id": request_id_var.get(),
        }
        ids = trace_ids()
        if ids is not None:
            line["trace_id"], line["span_id"] = ids
        return line

    def format(self, record: logging.LogRecord) -> str:
        line = self.head(record.created, record.levelname.lower(), record.getMessage(), record.name)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = REDACTED if is_sensitive(key) else redact(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return self._encoder.encode(line)


def trace_ids() -> tuple[str, str] | None:
    """The (trace id, span id) a line logged now carries: the current span's, or those of
    the ended request it is logged for (`log_context`)."""
    return _ended_request_ids.get() or log_ids()


@contextlib.contextmanager
def log_context(request_id: str | None, trace_ids: tuple[str, str] | None) -> Iterator[None]:
    """Lines logged inside carry this request id and these trace ids (for lines written on
    behalf of a request after it ended, such as its access line)."""
    rid_token = request_id_var.set(request_id)
    ids_token = _ended_request_ids.set(trace_ids)
    try:
        yield
    finally:
        _ended_request_ids.reset(ids_token)
        request_id_var.reset(rid_token)


class StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to `sys.stdout` as it is at each write (pytest's capture swaps it per test),
    or to a fixed stream when given one."""

    def __init__(self, stream: TextIO | None = None) -> None:
        logging.Handler.__init__(self)
        self._fixed = stream

    @property
    def stream(self) -> TextIO:
        return self._fixed if self._fixed is not None else sys.stdout

    @stream.setter
    def stream(self, value: TextIO) -> None:
        self._fixed = value

    def emit(self, record: logging.LogRecord) -> None:
        flush_logs()  # access lines waiting for their batch go first, so lines stay in order
        super().emit(record)

    def write_now(self, text: str) -> None:
        self.acquire()
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.handleError(logging.makeLogRecord({"msg": text[:200]}))
        finally:
            self.release()


_handler: StdoutHandler | None = None
_flush_at_exit = [False]
# What holds log lines back to write them in batches (the request telemetry): flushed
# before any other line is written, by `flush_logs`, and at exit.
_waiting_lines: list[Callable[[], None]] = []
_flushing = [False]


def hold_lines_from(flush: Callable[[], None]) -> None:
    """Register `flush`, which writes lines something keeps back to batch them: it runs
    before any other log record is written, so lines stay in the order they happened."""
    if flush not in _waiting_lines:
        _waiting_lines.append(flush)


def configure_logging(
    service: str,
    level: str = "INFO",
    stream: TextIO | None = None,
    *,
    access_log_probes: bool = True,
) -> None:
    """Route every logger (ours, aiohttp's, SQLAlchemy's) to one JSON handler on stdout.

    Idempotent: calling it again replaces the handler, so tests and workers may call it freely.
    `stream` defaults to `sys.stdout`, looked up at each write so that pytest's capture sees
    the lines. With `access_log_probes=False` a request to one of `PROBE_ROUTES` gets an access
    line only when it was answered 5xx (a failing probe is news; a passing one is not).
    """
    global _handler
    _unlogged_routes[0] = frozenset() if access_log_probes else PROBE_ROUTES
    handler = StdoutHandler(stream)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old.formatter, JsonFormatter):
            root.removeHandler(old)
    root.addHandler(handler)
    _handler = handler
    if not _flush_at_exit[0]:
        atexit.register(flush_logs)
        _flush_at_exit[0] = True
    root.setLevel(level.upper())
    # Ours replaces it: aiohttp's line would print the raw path with its query string.
    logging.getLogger("aiohttp.access").disabled = True


def flush_logs() -> None:
    """Write the lines still waiting for their batch (before other lines, at shutdown;
    tests reading stdout)."""
    if _flushing[0]:
        return  # a flush that logs (a fallback record) must not start another
    _flushing[0] = True
    try:
        for flush in _waiting_lines:
            flush()
    finally:
        _flushing[0] = False


def is_configured() -> bool:
    return _handler is not None and _handler in logging.getLogger().handlers


def direct_handler(logger: logging.Logger) -> StdoutHandler | None:
    """Our JSON handler when `logger`'s INFO lines may be written to it directly, without a
    LogRecord (the access log's batches); None when something else is in charge of them."""
    handler = _handler
    if (
        handler is None
        or logger.handlers
        or not logger.propagate
        or not logger.isEnabledFor(logging.INFO)
        or handler not in logging.root.handlers
    ):
        return None
    return handler
