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
from collections.abc import Callable
from typing import Final

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


class RequestMetrics:
    """The request counter and histogram of one app, with each series' children cached.

    `labels()` takes a lock and builds a tuple on every call; looking the two children up
    in a dict keyed by (method, route, status) keeps that off the request path. The number
    of series is bounded by routes x methods x statuses because `route` is always a
    template, never a raw path (unknown methods are folded into one label, below).
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        series = self._series.get((method, route, status)) or self._series_of(method, route, status)
        series[0].inc()
        series[1].observe(seconds)

    def _series_of(self, method: str, route: str, status: int) -> tuple[Counter, Histogram]:
        if method not in KNOWN_METHODS:
            method = "other"  # clients choose methods: one series for all the odd ones
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            labels = (self.service, method, route, str(status))
            series = (HTTP_REQUESTS.labels(*labels), HTTP_DURATION.labels(*labels))
            self._series[key] = series
        return series


KNOWN_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
)


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
