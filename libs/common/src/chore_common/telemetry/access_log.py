"""The access line of every finished request (`http.request`), written in batches.

A request leaves one `RequestRecord`; `ACCESS_LOG.add(record)` keeps it, and the lines of
a batch are formatted and written together: FLUSH_S after the batch's first record, at
FLUSH_RECORDS records, before any other log line (so lines keep their order), and at exit.
One write per batch and a %-template per route instead of a LogRecord and a dict per
request: written one at a time through `logging`, the same lines cost the gateway 5-9 % of
a proxied request's CPU (paired rounds, bench/gateway.py). That trick stays in this module.

The fields are fixed, non-sensitive JSON scalars, so no redaction runs here: the path is
without its query string (`?token=` on WebSockets) and bodies are never logged. When our
JSON handler is not the one in charge (tests capturing logs with handlers of their own),
each line goes the standard way, as a record carrying the same fields.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Final, NamedTuple

from chore_common.telemetry.logs import (
    JsonFormatter,
    direct_handler,
    hold_lines_from,
    log_context,
    unlogged_routes,
)

FLUSH_S: Final = 0.05
FLUSH_RECORDS: Final = 512
_encode_text: Final = json.encoder.encode_basestring  # C-accelerated, keeps non-ASCII as is

access_log = logging.getLogger("chore.access")


class RequestRecord(NamedTuple):
    """How one request ended: what its access line says. A NamedTuple, not a dataclass: one
    is made per request, and a frozen dataclass's __init__ costs three times as much."""

    at: float  # unix time it finished
    request_id: str | None
    trace_ids: tuple[str, str] | None  # (trace id, span id) of its server span
    method: str
    route: str  # the route template, `/tasks/{id}`
    path: str  # without the query string
    status: int  # 499: the client went away first
    seconds: float
    remote: str | None


class AccessLog:
    """The records not written yet, for every app of the process (one batch, one timer)."""

    def __init__(self) -> None:
        self._pending: list[RequestRecord] = []
        self._thread = threading.get_ident()  # the thread requests are served on
        self._templates: dict[tuple[str, str, str, bool], str] = {}

    def add(self, record: RequestRecord) -> None:
        pending = self._pending
        pending.append(record)
        if len(pending) == 1:
            self._schedule_flush()
        elif len(pending) >= FLUSH_RECORDS:
            self.flush()

    def _schedule_flush(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._thread = threading.get_ident()
        loop.call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        """Write the access lines of every pending record."""
        if not self._pending or threading.get_ident() != self._thread:
            return  # a log line from another thread leaves the serving thread's batch alone
        records, self._pending = self._pending, []
        quiet = unlogged_routes()
        if quiet:  # probes and scrapes: a failing one is news, a passing one is not
            records = [r for r in records if r.route not in quiet or r.status >= 500]
        handler = direct_handler(access_log)
        if handler is None:
            for record in records:
                _log_record(record)
            return
        formatter = handler.formatter
        assert isinstance(formatter, JsonFormatter)
        handler.write_now("".join([self.line(formatter, record) for record in records]))

    def line(self, formatter: JsonFormatter, record: RequestRecord) -> str:
        """The JSON line of `record`, keys in the order of every other line's head."""
        key = (formatter.service, record.method, record.route, record.trace_ids is None)
        template = self._templates.get(key) or self._template(*key)
        rid = "null" if record.request_id is None else _encode_text(record.request_id)
        remote = "null" if record.remote is None else _encode_text(record.remote)
        ids = () if record.trace_ids is None else record.trace_ids
        ms = record.seconds * 1000
        values = (formatter.timestamp(record.at), rid, *ids, _encode_text(record.path))
        return template % (*values, record.status, ms, remote)

    def _template(self, service: str, method: str, route: str, no_ids: bool) -> str:
        def fixed(value: str) -> str:  # JSON text that %-formatting leaves as it is
            return _encode_text(value).replace("%", "%%")

        template = (
            f'{{"ts":"%s","level":"info","service":{fixed(service)}'
            f',"event":"http.request","logger":{fixed(access_log.name)},"request_id":%s'
            + ("" if no_ids else ',"trace_id":"%s","span_id":"%s"')
            + f',"method":{fixed(method)},"route":{fixed(route)},"path":%s,"status":%d'
            ',"duration_ms":%.3f,"remote":%s}\n'
        )
        if len(self._templates) < 4096:  # methods come from clients: keep the cache bounded
            self._templates[service, method, route, no_ids] = template
        return template


def _log_record(record: RequestRecord) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    fields = {
        "method": record.method,
        "route": record.route,
        "path": record.path,
        "status": record.status,
        "duration_ms": round(record.seconds * 1000, 3),
        "remote": record.remote,
    }
    with log_context(record.request_id, record.trace_ids):
        access_log.info("http.request", extra=fields)


ACCESS_LOG: Final = AccessLog()
hold_lines_from(ACCESS_LOG.flush)
