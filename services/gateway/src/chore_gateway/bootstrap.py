"""The one place the gateway's adapters are built and handed to the app (keys.py).

No database: the gateway holds no domain state. It owns one pooled client session
(keep-alive connections to every upstream), shared by the proxy, the health checker that
runs on it and the `/docs` document fetcher; its own runner for client connections
(adapters/protocol.py); `/metrics` on a port of its own (adapters/metrics_port.py); with
`GATEWAY_NATS_URL`, the link that shares the per-IP limit with the other gateways
(adapters/ratelimit_sync.py); with `GATEWAY_CORS_ORIGINS`, the CORS hook (adapters/cors.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

from chore_common.keys import READINESS
from chore_common.serving import RUNNER
from chore_gateway.adapters import metrics
from chore_gateway.adapters.cors import response_hook
from chore_gateway.adapters.dev_mailbox import DevMailbox
from chore_gateway.adapters.documents import ServiceDocuments
from chore_gateway.adapters.exports import ServiceExports
from chore_gateway.adapters.health import HealthChecker
from chore_gateway.adapters.metrics_port import metrics_listener
from chore_gateway.adapters.protocol import GatewayRunner, no_hidden_retries
from chore_gateway.adapters.proxy import Proxy
from chore_gateway.adapters.ratelimit_sync import RateLimitSync, sync_context
from chore_gateway.domain.clients import TrustedProxies
from chore_gateway.domain.pool import Pool
from chore_gateway.domain.ratelimit import RateLimiter, SharedRateLimiter
from chore_gateway.keys import DEV_MAIL, DOCUMENTS, EXPORTS, PROXY
from chore_gateway.settings import GatewaySettings


class NoReadyAddress(Exception):
    """No address of this service passed its last health check."""


def bootstrap(app: web.Application, settings: GatewaySettings) -> None:
    """Build the proxy, its pools and the document fetcher; start and stop what runs
    beside them (client session, deadline sweeper, health checks, metrics port) with the
    app."""
    app[RUNNER] = GatewayRunner  # head timeout and problem+json parse errors
    policy = settings.breaker_policy
    pools = {name: Pool(name, bases, policy) for name, bases in settings.upstreams.items()}
    limit = settings.rate_limit
    limiter: RateLimiter | None = None
    if limit is not None and settings.nats_url:
        shared = SharedRateLimiter(limit, settings.rate_limit_max_clients)
        sync = RateLimitSync(shared, settings.nats_url, interval_s=settings.rate_limit_sync_s)
        app.cleanup_ctx.append(sync_context(sync))
        limiter = shared
    elif limit is not None:
        limiter = RateLimiter(limit, settings.rate_limit_max_clients)
    cors = settings.cors
    if cors is not None:
        app.on_response_prepare.append(response_hook(cors))
    proxy = Proxy(
        pools,
        limiter=limiter,
        max_body=settings.max_body_bytes,
        proxies=TrustedProxies(str(network) for network in settings.trusted_proxies),
        timeout_s=settings.upstream_timeout_s,
        client_body_timeout_s=settings.client_body_timeout_s,
        cors=cors,
        ws_max_sockets=settings.ws_max_sockets,
        ws_retry_after_s=settings.ws_retry_after_s,
    )
    documents = ServiceDocuments()
    exports = ServiceExports(pools, timeout_s=settings.export_timeout_s)
    app[PROXY] = proxy
    app[DOCUMENTS] = documents
    app[EXPORTS] = exports
    if settings.dev_mail_dir is not None:
        app[DEV_MAIL] = DevMailbox(settings.dev_mail_dir)
    for name, pool in pools.items():
        app[READINESS].add(f"upstream:{name}", _ready_check(pool))
    app.cleanup_ctx.append(metrics_listener(settings))
    app.cleanup_ctx.append(_client_context(settings, proxy, documents, exports))
    app.on_shutdown.append(lambda _: proxy.close_sockets())


def _ready_check(pool: Pool) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        if not pool.is_ready():
            raise NoReadyAddress(pool.name)

    return check


def client_session(settings: GatewaySettings, *, websockets: bool = False) -> aiohttp.ClientSession:
    """The pooled session every upstream call goes through; with `websockets`, the one the
    upstream WebSockets open on: each holds its connection for its whole life, so in the
    HTTP pool the 257th socket would wait for a free connection until it timed out (504)
    and HTTP calls would starve. Its limit is the WebSocket cap, which admission enforces."""
    connector = aiohttp.TCPConnector(
        limit=settings.ws_max_sockets if websockets else settings.upstream_connections,
        limit_per_host=0,
        keepalive_timeout=30,
        ttl_dns_cache=300,
    )
    # aiohttp times only the opening of a new connection (sock_connect: rare, they are
    # pooled). `total` or `connect` would arm a timer on every request, and `sock_read`
    # one on every read; the proxy's deadlines (adapters/deadlines.py) bound the whole
    # call instead, waiting for a pooled connection included.
    timeout = aiohttp.ClientTimeout(
        total=None, connect=None, sock_connect=settings.upstream_connect_timeout_s
    )
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,  # bodies pass through as the upstream encoded them
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        cookie_jar=aiohttp.DummyCookieJar(),  # clients' cookies are theirs, never kept
    )
    # The proxy retries itself, once and on another replica (domain/retries.py).
    no_hidden_retries(session)
    # The proxy starts each upstream call's CLIENT span itself (adapters/proxy.py): the
    # contrib instrumentation's per-call trace-config signals cost ~13 % of a proxied request.
    AioHttpClientInstrumentor.uninstrument_session(session)
    return session


def _client_context(
    settings: GatewaySettings, proxy: Proxy, documents: ServiceDocuments, exports: ServiceExports
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def run(app: web.Application) -> AsyncIterator[None]:
        session = client_session(settings)
        proxy.session = session
        proxy.ws_session = ws_session = client_session(settings, websockets=True)
        proxy.loop = asyncio.get_running_loop()
        sweeper = asyncio.create_task(proxy.deadlines.run(), name="gateway-deadlines")
        documents.session = session
        exports.session = session
        for pool in proxy.pools.values():
            for address in pool.addresses:
                metrics.publish_health(address)
                metrics.publish_breaker(address)
        checker = HealthChecker(
            proxy.pools,
            session,
            path=settings.health_path,
            interval_s=settings.health_interval_s,
            timeout_s=settings.health_timeout_s,
        )
        task = asyncio.create_task(checker.run(), name="gateway-health")
        yield
        await checker.stop(task)
        await proxy.deadlines.stop(sweeper)
        await session.close()
        await ws_session.close()
        with contextlib.suppress(Exception):
            await asyncio.sleep(0)  # let the connector's transports close

    return run
