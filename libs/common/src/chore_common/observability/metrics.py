"""Prometheus metrics every service exposes, and how `/metrics` renders them.

Single process: everything lives in prometheus_client's default `REGISTRY`, so metrics other
modules define with prometheus_client directly (the event bus, WebSockets) show up without
registering anything here.

Several worker processes (`WORKERS>1`): `chore_common.serving` points
`PROMETHEUS_MULTIPROC_DIR` at a fresh directory *before* it starts the workers, which are
spawned (not forked) so that prometheus_client, imported fresh in each, picks its mmap-backed
values. Every worker then writes its samples to files there, and `/metrics` on any worker
reads all of them through `MultiProcessCollector`: counters and histograms are summed over
workers, gauges follow the `multiprocess_mode` given at their definition.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from bisect import bisect_left
from collections.abc import Callable
from typing import Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED: Final = "<unmatched>"

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests handled, by route template and status",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from the first middleware to the response, by route template and status",
    ["service", "method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENT_LOOP_LAG = Histogram(
    "event_loop_lag_seconds",
    "How late the event loop woke a sleeping task: time the loop spent blocked",
    ["service"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
DB_POOL_IN_USE = Gauge(
    "db_pool_in_use",
    "Database connections checked out of the pool",
    ["service", "pool"],
    multiprocess_mode="livesum",
)

_pool_gauges: dict[str, Callable[[], float]] = {}


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class _Series:
    """The value cells of one (method, route, status) series, and what is not in them yet.

    `Counter.inc` and `Histogram.observe` re-check observability, validate the amount, walk
    the buckets linearly and take a lock per cell on every call. On the request path those
    checks cannot fail (the children exist, durations are non-negative), and in one process
    on one event loop no lock is needed until the values are read: so observations add up
    in `pending` (count, sum, then one count per bucket) and `flush` moves them into the
    cells. With several workers the cells are shared files that any worker's `/metrics`
    reads, so there each observation goes straight to its cells (`RequestMetrics`).
    """

    __slots__ = ("bounds", "buckets", "count", "pending", "total")

    def __init__(self, counter: Counter, histogram: Histogram) -> None:
        self.count: Any = counter._value
        self.total: Any = histogram._sum
        self.buckets: list[Any] = list(histogram._buckets)
        self.bounds: list[float] = list(histogram._upper_bounds)  # ends with +Inf
        self.pending: list[float] = [0.0] * (2 + len(self.buckets))

    def flush(self) -> None:
        pending = self.pending
        if not pending[0]:
            return
        self.pending = [0.0] * len(pending)
        self.count.inc(pending[0])
        self.total.inc(pending[1])
        for cell, n in zip(self.buckets, pending[2:], strict=True):
            if n:
                cell.inc(n)


# Every RequestMetrics of this process, so that `render` can flush them before reading.
_request_metrics: weakref.WeakSet[RequestMetrics] = weakref.WeakSet()


class RequestMetrics:
    """Request counter + histogram with the label children cached per series.

    `labels()` takes a lock and builds a tuple on every call; the cache keeps the hot path
    to one dict lookup, a bisect and three additions. The number of series is bounded by
    routes x methods x statuses because `route` is always a template, never a raw path.
    In one process the additions are to plain numbers, folded into prometheus_client when
    `/metrics` is read (`flush_request_metrics`): the write-through path cost ~5 us of a
    served request's ~70 (bench/README.md).
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self._series: dict[tuple[str, str, int], _Series] = {}
        # Several workers: any of them may serve a scrape, so none may hold observations back.
        self.write_through = multiprocess_dir() is not None
        _request_metrics.add(self)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            labels = (self.service, method, route, str(status))
            series = _Series(HTTP_REQUESTS.labels(*labels), HTTP_DURATION.labels(*labels))
            self._series[key] = series
        # The first bucket whose upper bound is >= seconds, as `Histogram.observe` picks it.
        bucket = bisect_left(series.bounds, seconds)
        if self.write_through:
            series.count.inc(1)
            series.total.inc(seconds)
            series.buckets[bucket].inc(1)
            return
        pending = series.pending
        pending[0] += 1
        pending[1] += seconds
        pending[2 + bucket] += 1

    def flush(self) -> None:
        for series in list(self._series.values()):
            series.flush()


def flush_request_metrics() -> None:
    """Move every observation not yet in prometheus_client's cells there (before reading)."""
    for request_metrics in list(_request_metrics):
        request_metrics.flush()


def register_pool_gauge(name: str, fn: Callable[[], float], *, service: str = "") -> None:
    """Report `fn()` (connections in use) as `db_pool_in_use{pool=name}`.

    Sampled when `/metrics` is scraped and by the loop-lag task, rather than read lazily by a
    callback, because callback gauges do not work across worker processes.
    """
    _pool_gauges[f"{service}\0{name}"] = fn


def unregister_pool_gauge(name: str, *, service: str = "") -> None:
    _pool_gauges.pop(f"{service}\0{name}", None)


def sample_pool_gauges() -> None:
    for key, fn in list(_pool_gauges.items()):
        service, name = key.split("\0", 1)
        try:
            value = float(fn())
        except Exception:  # a disposed pool reads as empty rather than breaking /metrics
            value = 0.0
        DB_POOL_IN_USE.labels(service, name).set(value)


def render() -> tuple[bytes, str]:
    """The exposition text for `/metrics` and its content type."""
    flush_request_metrics()
    sample_pool_gauges()
    path = multiprocess_dir()
    if path is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST


async def watch_event_loop_lag(service: str, interval_s: float = 0.25) -> None:
    """Sleep `interval_s` forever and record how late each wake-up was (run it as a task).

    Lateness is time the loop could not run anything: blocking calls, CPU-heavy handlers.
    """
    loop = asyncio.get_running_loop()
    child = EVENT_LOOP_LAG.labels(service)
    while True:
        start = loop.time()
        await asyncio.sleep(interval_s)
        child.observe(max(0.0, loop.time() - start - interval_s))
        sample_pool_gauges()
