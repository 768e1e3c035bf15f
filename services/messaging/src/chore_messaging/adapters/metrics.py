"""Messaging's Prometheus metrics (per process; gauges summed across workers)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OPEN_SOCKETS = Gauge(
    "messaging_websockets_open", "WebSockets open on this process", multiprocess_mode="livesum"
)
FRAMES_IN = Counter("messaging_frames_in_total", "Frames received from clients, by type", ["type"])
FRAMES_OUT = Counter("messaging_frames_out_total", "Frames written to clients")
FANOUT_SECONDS = Histogram(
    "messaging_fanout_latency_seconds",
    "From a message's commit (on any replica) to its release to this replica's sockets",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
SLOW_DROPS = Counter(
    "messaging_slow_client_drops_total", "Sockets closed 1013 because their queue was full"
)
CLOSES = Counter("messaging_websocket_closes_total", "Sockets the server closed, by code", ["code"])
GAP_REPAIRS = Counter(
    "messaging_gap_repairs_total", "Missing fan-out messages read back from the database"
)
