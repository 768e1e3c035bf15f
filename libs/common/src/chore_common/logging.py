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
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, Final, TextIO

from chore_common.observability import tracing

_encode_text: Final = json.encoder.encode_basestring  # C-accelerated, keeps non-ASCII as is

request_id_var: ContextVar[str | None] = ContextVar("chore_request_id", default=None)

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
        self._templates: dict[tuple[str, str, str, bool], str] = {}

    def _timestamp(self, created: float) -> str:
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
            "ts": self._timestamp(created),
            "level": level,
            "service": self.service,
            "event": event,
            "logger": logger,
            "request_id": request_id_var.get(),
        }
        ids = tracing.current_ids()
        if ids is not None:
            line["trace_id"], line["span_id"] = ids[0], ids[1]
        return line

    def request_line(self, logger: str, line: AccessLine) -> str:
        """The access line of one request, keys in `head` order then the request's: one
        %-template per route fills in the parts that change (one C call, where an f-string
        of a dozen parts took a bytecode step each)."""
        ts, request_id, ids, method, route, path, status, seconds, remote, _ = line
        key = (logger, method, route, ids is None)
        template = self._templates.get(key)
        if template is None:
            template = self._request_template(*key)
        rid = "null" if request_id is None else _encode_text(request_id)
        where = "null" if remote is None else _encode_text(remote)
        if ids is None:
            values: tuple[object, ...] = (
                self._timestamp(ts), rid, _encode_text(path), status, seconds * 1000, where
            )  # fmt: skip
        else:
            values = (
                self._timestamp(ts), rid, ids[0], ids[1], _encode_text(path), status,
                seconds * 1000, where,
            )  # fmt: skip
        return template % values

    def _request_template(self, logger: str, method: str, route: str, no_ids: bool) -> str:
        def fixed(value: str) -> str:  # JSON text that %-formatting leaves as it is
            return _encode_text(value).replace("%", "%%")

        template = (
            f'{{"ts":"%s","level":"info","service":{fixed(self.service)}'
            f',"event":"http.request","logger":{fixed(logger)},"request_id":%s'
            + ("" if no_ids else ',"trace_id":"%s","span_id":"%s"')
            + f',"method":{fixed(method)},"route":{fixed(route)},"path":%s,"status":%d'
            ',"duration_ms":%.3f,"remote":%s}\n'
        )
        if len(self._templates) < 4096:  # methods come from clients: keep the cache bounded
            self._templates[logger, method, route, no_ids] = template
        return template

    def format(self, record: logging.LogRecord) -> str:
        line = self.head(record.created, record.levelname.lower(), record.getMessage(), record.name)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = REDACTED if is_sensitive(key) else redact(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return self._encoder.encode(line)


# One finished request's access line, not yet formatted: (unix time, request id, trace ids,
# method, route template, path, status, duration in seconds, remote address, and one more
# item its producer keeps with it, unread here: the request telemetry's metrics).
AccessLine = tuple[
    float, str | None, "tracing.TraceIds | None", str, str, str, int, float, str | None, Any
]


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


def write_request_lines(logger: logging.Logger, lines: Sequence[AccessLine]) -> None:
    """The `http.request` access lines of finished requests, in one write.

    One line per request is the hottest logging there is, so the parts that never change
    for a route (service, event, logger, method, route) are rendered once, the rest is
    formatted by hand (no LogRecord, no dict), and a whole batch goes out in one write.
    The price is a narrower contract: the fields are fixed, non-sensitive JSON scalars, so
    no redaction runs here. When our handler is not the one in charge (tests capturing
    logs with their own handlers), each line goes the standard way, as a record with the
    same fields under the request's ids.
    """
    unlogged = _unlogged_routes[0]
    if unlogged:
        lines = [line for line in lines if line[4] not in unlogged or line[6] >= 500]
    if not lines:
        return
    handler = _fast_handler(logger)
    if handler is None:
        for line in lines:
            _log_line(logger, line)
        return
    formatter = handler.formatter
    assert isinstance(formatter, JsonFormatter)
    name = logger.name
    handler.write_now("".join([formatter.request_line(name, line) for line in lines]))


def _log_line(logger: logging.Logger, line: AccessLine) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    _, request_id, ids, method, route, path, status, seconds, remote, _ = line
    fields = {
        "method": method,
        "route": route,
        "path": path,
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "remote": remote,
    }
    rid_token = request_id_var.set(request_id)
    ids_token = tracing.CURRENT_IDS.set(ids)
    try:
        logger.info("http.request", extra=fields)
    finally:
        tracing.CURRENT_IDS.reset(ids_token)
        request_id_var.reset(rid_token)


def _fast_handler(logger: logging.Logger) -> StdoutHandler | None:
    """Our handler when a line may skip the LogRecord path, else None."""
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
