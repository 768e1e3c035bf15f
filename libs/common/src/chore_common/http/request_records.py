"""How each request ended, recorded on the request path and written up in batches.

A request leaves one tuple behind (`FinishedRequests.pending`); its request metric and its
access line are made from it later, together with the others of its batch: every FLUSH_S
(timed from the batch's first request), at FLUSH_RECORDS records, before any other log line
is written (so lines keep their order), when `/metrics` is read, when an app stops, and at
exit. Done one request at a time, the same work cost the gateway ~8 % of a proxied
request's CPU more than in batches, where it runs hot (bench/gateway.py). A kill -9 loses
the last FLUSH_S of access lines, and the metrics with the process anyway.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Final

from chore_common.logging import AccessLine, hold_lines_from, write_request_lines
from chore_common.observability import tracing
from chore_common.observability.metrics import RequestMetrics

FLUSH_S: Final = 0.05
FLUSH_RECORDS: Final = 512

# (the app's request metrics, unix time at the end, request id, trace ids, method, route
# template, path, status, duration in seconds, remote address)
Record = tuple[
    RequestMetrics, float, str, tracing.TraceIds | None, str, str, str, int, float, str | None
]

access_log = logging.getLogger("chore.access")


class FinishedRequests:
    """The records not written up yet, for every app of the process (one batch, one timer)."""

    __slots__ = ("_thread", "pending")

    def __init__(self) -> None:
        self.pending: list[Record] = []
        self._thread = threading.get_ident()  # the thread requests are served on

    def add(self, record: Record) -> None:
        pending = self.pending
        pending.append(record)
        if len(pending) == 1:
            self._schedule()
        elif len(pending) >= FLUSH_RECORDS:
            self.flush()

    def _schedule(self) -> None:
        # Only a batch's first record looks up the loop (in 3.11 that is a getpid syscall).
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._thread = threading.get_ident()
        loop.call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        """Observe the request metrics and write the access lines of every pending record."""
        if not self.pending or threading.get_ident() != self._thread:
            return  # a log line from another thread does not touch the serving thread's list
        records, self.pending = self.pending, []
        lines: list[AccessLine] = []
        for metrics, ts, rid, ids, method, route, path, status, seconds, remote in records:
            metrics.observe(method, route, status, seconds)
            lines.append((ts, rid, ids, method, route, path, status, seconds, remote))
        write_request_lines(access_log, lines)


FINISHED: Final = FinishedRequests()
hold_lines_from(FINISHED.flush)
