"""JSON log lines on stdout, with request and trace ids from context, and secrets redacted.

`log.info("offer.accepted", extra={"task_id": ...})` prints one line:
`{"ts": ..., "level": "info", "service": "tasks", "event": "offer.accepted", "logger": ...,
"request_id": ..., "trace_id": ..., "span_id": ..., "task_id": ...}`.

Redaction works on keys, not values: any field whose name looks like a credential
(`authorization`, `password`, `access_token`, `client_secret`, ...) is printed as
"[redacted]", however deep it sits in dicts and lists. Values are never scanned, so the
rule is: put secrets in named fields or nowhere, never inside the event text.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, Final, TextIO

from chore_common.observability import tracing

try:
    from json.encoder import c_make_encoder as _c_make_encoder  # type: ignore[attr-defined]
    from json.encoder import encode_basestring as _c_encode_basestring
except ImportError:  # pragma: no cover - CPython always has the C accelerator
    _c_make_encoder = None

_encode_text: Final = json.encoder.encode_basestring  # C-accelerated, keeps non-ASCII as is

request_id_var: ContextVar[str | None] = ContextVar("chore_request_id", default=None)

REDACTED: Final = "[redacted]"
_SENSITIVE = re.compile(r"authorization|cookie|password|passwd|secret|token|api[_-]?key", re.I)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(
    [*logging.LogRecord("", 0, "", 0, "", None, None).__dict__, "message", "asctime", "taskName"]
)


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
        self._flat: Any = None
        self._second = -1
        self._second_text = ""
        self._millis = -1
        self._millis_text = ""
        self._heads: dict[str, str] = {}
        self._routes: dict[tuple[str, str], str] = {}

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

    def encode(self, line: dict[str, Any]) -> str:
        return self._encoder.encode(line)

    def encode_flat(self, line: dict[str, Any]) -> str:
        """`encode` for a dict of scalars: straight into the C encoder, skipping the wrapper
        that rebuilds it on every call (and its circular-reference bookkeeping)."""
        if _c_make_encoder is None:
            return self.encode(line)
        if self._flat is None:
            self._flat = _c_make_encoder(
                None, str, _c_encode_basestring, None, ":", ",", False, False, True
            )
        return "".join(self._flat(line, 0))

    def request_line(
        self,
        logger: str,
        method: str,
        route: str,
        path: str,
        status: int,
        duration_ms: float,
        remote: str | None,
        ids: tracing.TraceIds | None,
    ) -> str:
        """The access line of one request, keys in `head` order then the request's."""
        head = self._heads.get(logger)
        if head is None:
            head = self._heads[logger] = (
                f',"level":"info","service":{_encode_text(self.service)}'
                f',"event":"http.request","logger":{_encode_text(logger)},"request_id":'
            )
        key = (method, route)
        fixed = self._routes.get(key)
        if fixed is None:
            fixed = f',"method":{_encode_text(method)},"route":{_encode_text(route)},"path":'
            if len(self._routes) < 4096:  # methods come from clients: keep the cache bounded
                self._routes[key] = fixed
        trace_ids = "" if ids is None else f',"trace_id":"{ids[0]}","span_id":"{ids[1]}"'
        return (
            f'{{"ts":"{self._timestamp(time.time())}"{head}{_text(request_id_var.get())}'
            f'{trace_ids}{fixed}{_encode_text(path)},"status":{status:d}'
            f',"duration_ms":{duration_ms:.3f},"remote":{_text(remote)}}}\n'
        )

    def format(self, record: logging.LogRecord) -> str:
        line = self.head(record.created, record.levelname.lower(), record.getMessage(), record.name)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = REDACTED if is_sensitive(key) else redact(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return self._encoder.encode(line)


class StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to `sys.stdout` as it is at each write (pytest's capture swaps it per test),
    or to a fixed stream when given one."""

    def __init__(self, stream: TextIO | None = None) -> None:
        logging.Handler.__init__(self)
        self._fixed = stream
        self.pending: list[str] = []  # access lines waiting for the end of the loop turn

    @property
    def stream(self) -> TextIO:
        return self._fixed if self._fixed is not None else sys.stdout

    @stream.setter
    def stream(self, value: TextIO) -> None:
        self._fixed = value

    def emit(self, record: logging.LogRecord) -> None:
        self.drain()  # access lines of this loop turn first, so lines stay in order
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

    def drain(self) -> None:
        if self.pending:
            text = "".join(self.pending)
            self.pending.clear()
            self.write_now(text)


_handler: StdoutHandler | None = None
ACCESS_FLUSH_S = 0.05  # how long an access line may wait to be written with others
ACCESS_FLUSH_LINES = 512  # ... or how many may wait
_flush_at_exit = [False]


def configure_logging(service: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Route every logger (ours, aiohttp's, SQLAlchemy's) to one JSON handler on stdout.

    Idempotent: calling it again replaces the handler, so tests and workers may call it freely.
    `stream` defaults to `sys.stdout`, looked up at each write so that pytest's capture sees
    the lines.
    """
    global _handler
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
    """Write the access lines still waiting (at shutdown; tests reading stdout)."""
    if _handler is not None:
        _handler.drain()


def is_configured() -> bool:
    return _handler is not None and _handler in logging.getLogger().handlers


def _text(value: str | None) -> str:
    return "null" if value is None else _encode_text(value)


def write_access_line(logger: logging.Logger, event: str, fields: dict[str, Any]) -> None:
    """`logger.info(event, extra=fields)` without the LogRecord machinery: the access log.

    Same line shape and handler as the standard path at a fraction of the cost (at thousands
    of requests a second the standard path alone ate half the middleware budget). The price
    is a narrower contract: `fields` has fixed, non-sensitive keys and JSON scalar values,
    so no redaction runs here. Lines are written in batches (every ACCESS_FLUSH_S, or
    ACCESS_FLUSH_LINES lines). Falls back to the standard path when our handler is not the
    one in charge (tests capturing logs with their own handlers still get the record).
    """
    handler = _fast_handler(logger)
    if handler is None:
        logger.info(event, extra=fields)
        return
    formatter = handler.formatter
    assert isinstance(formatter, JsonFormatter)
    line = formatter.head(time.time(), "info", event, logger.name)
    line.update(fields)
    _queue(handler, formatter.encode_flat(line) + "\n")


def write_request_line(
    logger: logging.Logger,
    method: str,
    route: str,
    path: str,
    status: int,
    duration_ms: float,
    remote: str | None,
    ids: tracing.TraceIds | None,
) -> None:
    """The `http.request` access line, as `write_access_line` would print it, built by hand.

    One line per request is the hottest logging there is, so the parts that never change
    for a route (service, event, logger, method, route) are rendered once and only the rest
    is encoded per request; no dict is built unless another handler is in charge. `ids` are
    the server span's, passed in rather than looked up again.
    """
    handler = _fast_handler(logger)
    if handler is None:
        fields = {
            "method": method,
            "route": route,
            "path": path,
            "status": status,
            "duration_ms": round(duration_ms, 3),
            "remote": remote,
        }
        logger.info("http.request", extra=fields)
        return
    formatter = handler.formatter
    assert isinstance(formatter, JsonFormatter)
    _queue(
        handler,
        formatter.request_line(logger.name, method, route, path, status, duration_ms, remote, ids),
    )


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


def _queue(handler: StdoutHandler, text: str) -> None:
    pending = handler.pending
    if pending:  # a flush is already scheduled, by the first line of this batch
        pending.append(text)
        if len(pending) >= ACCESS_FLUSH_LINES:
            handler.drain()
        return
    # Only the first line of a batch needs the loop (each lookup is a getpid syscall).
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        handler.write_now(text)
        return
    pending.append(text)
    # One write per ACCESS_FLUSH_S, not per line nor per loop turn: under load the write
    # (encode, syscall, flush) was ~15 us a request, more than the rest of the line.
    # Any other log record drains first (emit), and so does shutdown, so order holds and
    # a clean stop loses nothing; a kill -9 may lose the last ACCESS_FLUSH_S of lines.
    loop.call_later(ACCESS_FLUSH_S, handler.drain)
