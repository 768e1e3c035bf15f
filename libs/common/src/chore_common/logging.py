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

import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, Final, TextIO

from opentelemetry import trace

request_id_var: ContextVar[str | None] = ContextVar("chore_request_id", default=None)

REDACTED: Final = "[redacted]"
_SENSITIVE = re.compile(r"authorization|cookie|password|passwd|secret|token|api_?key", re.I)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(
    [*logging.LogRecord("", 0, "", 0, "", None, None).__dict__, "message", "asctime", "taskName"]
)


def is_sensitive(key: str) -> bool:
    return _SENSITIVE.search(key) is not None


def redact(value: Any) -> Any:
    """A copy of `value` with every sensitive key's value replaced, recursively."""
    if isinstance(value, Mapping):
        return {str(k): REDACTED if is_sensitive(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        secs = record.created
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
            + f".{int(secs % 1 * 1000):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "event": record.getMessage(),
            "logger": record.name,
            "request_id": request_id_var.get(),
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            line["trace_id"] = format(ctx.trace_id, "032x")
            line["span_id"] = format(ctx.span_id, "016x")
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = REDACTED if is_sensitive(key) else redact(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Route every logger (ours, aiohttp's, SQLAlchemy's) to one JSON handler on stdout.

    Idempotent: calling it again replaces the handler, so tests and workers may call it freely.
    `stream` defaults to the current `sys.stdout`, looked up at call time so that pytest's
    capture sees the lines.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old.formatter, JsonFormatter):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Ours replaces it: aiohttp's line would print the raw path with its query string.
    logging.getLogger("aiohttp.access").disabled = True
