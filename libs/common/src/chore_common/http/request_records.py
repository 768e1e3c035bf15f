"""How each request ended, recorded on the request path and written up in batches.

A request leaves one tuple behind (`FinishedRequests.pending`); its request metric and its
access line are made from it later, together with the others of its batch: every FLUSH_S
(timed from the batch's first request), at FLUSH_RECORDS records, before any other log line
is written (so lines keep their order), when `/metrics` is read, when an app stops, and at
exit. Done one request at a time, the same work cost the gateway 5-9 % of a proxied
request's CPU more than in batches, where it runs hot (paired rounds, bench/gateway.py).
With several workers (`WORKERS>1`) metrics are observed at once instead: the worker that
serves a scrape cannot flush the others. A kill -9 loses the last FLUSH_S of access lines
(and the process's metrics anyway).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Final

from chore_common.logging import AccessLine, hold_lines_from, write_request_lines

FLUSH_S: Final = 0.05
FLUSH_RECORDS: Final = 512

# An access line whose last item is the app's request metrics (`logging.AccessLine`), or
# None when the request was observed at once: with several workers any of them may serve a
# scrape and must find every request another worker answered.
Record = AccessLine

access_log = logging.getLogger("chore.access")


class FinishedRequests:
    """The records not written up yet, for every app of the process (one batch, one timer).

    The telemetry appends to `pending` itself (a method call per request measurably cost),
    calls `started` for a batch's first record and `flush` at FLUSH_RECORDS."""

    __slots__ = ("_thread", "pending")

    def __init__(self) -> None:
        self.pending: list[Record] = []
        self._thread = threading.get_ident()  # the thread requests are served on

    def started(self) -> None:
        """A batch's first record is pending: flush it in FLUSH_S."""
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
        for record in records:
            metrics = record[9]  # None when observed at once (several workers)
            if metrics is not None:
                metrics.observe(record[3], record[4], record[6], record[7])
        write_request_lines(access_log, records)


FINISHED: Final = FinishedRequests()
hold_lines_from(FINISHED.flush)
