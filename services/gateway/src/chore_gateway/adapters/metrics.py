"""The gateway's own Prometheus series, next to the common request metrics.

They move only when something changes (an address goes down, a breaker opens, a request is
refused), never on the ordinary request path.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from chore_gateway.domain.breaker import BreakerState
from chore_gateway.domain.pool import Address, Health

UPSTREAM_UP = Gauge(
    "gateway_upstream_up",
    "1 when the upstream address passed its last health check",
    ["service", "address"],
    multiprocess_mode="livemax",
)
BREAKER_STATE = Gauge(
    "gateway_breaker_state",
    "Circuit breaker per upstream address: 0 closed, 1 half-open, 2 open",
    ["service", "address"],
    multiprocess_mode="livemax",
)
REFUSED = Counter(
    "gateway_refused_total",
    "Requests the gateway answered itself, by reason",
    ["reason"],
)
UPSTREAM_FAILURES = Counter(
    "gateway_upstream_failures_total",
    "Upstream calls that failed: connect, disconnect, timeout or a 502/503/504 answer",
    ["service", "kind"],
)
RETRIES = Counter(
    "gateway_retries_total",
    "Requests sent again to another address after a connect failure or a reset",
    ["service", "reason"],
)
WEBSOCKETS_OPEN = Gauge(
    "gateway_websockets_open",
    "WebSockets this process proxies (admitted: opening their upstream, or spliced)",
    multiprocess_mode="livesum",
)
RATELIMIT_SHARED = Gauge(
    "gateway_ratelimit_shared",
    "1 while the per-IP limit is shared with the other gateways over NATS, 0 while each"
    " process limits on its own (NATS unreachable)",
    multiprocess_mode="livemin",
)
RATELIMIT_PROCESSES = Gauge(
    "gateway_ratelimit_processes",
    "Gateway processes sharing the per-IP limit, as this one counts them (itself included)",
    multiprocess_mode="livemax",
)

_BREAKER_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


def publish_health(address: Address) -> None:
    UPSTREAM_UP.labels(address.service, address.base).set(1 if address.health is Health.UP else 0)


def publish_breaker(address: Address) -> None:
    BREAKER_STATE.labels(address.service, address.base).set(_BREAKER_VALUE[address.breaker.state])
