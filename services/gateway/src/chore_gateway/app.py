"""`create_app(settings)`: the gateway as an aiohttp application.

No database and no NATS: the gateway holds no domain state. It owns one pooled client
session (keep-alive connections to every upstream), the health checker that runs on it,
and the routes `/auth/*`, `/tasks/*`, `/messaging/*` (each the pool of that service).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

from chore_common.http.app import create_service_app, installed_version
from chore_common.keys import READINESS
from chore_common.serving import RUNNER
from chore_gateway import docs, metrics
from chore_gateway.domain.clients import TrustedProxies
from chore_gateway.domain.pool import Pool
from chore_gateway.domain.ratelimit import RateLimiter
from chore_gateway.health import HealthChecker
from chore_gateway.keys import PROXY
from chore_gateway.metrics_port import metrics_listener
from chore_gateway.protocol import GatewayRunner, no_hidden_retries
from chore_gateway.proxy import Proxy
from chore_gateway.settings import GatewaySettings


class NoReadyAddress(Exception):
    """No address of this service passed its last health check."""


def create_app(settings: GatewaySettings) -> web.Application:
    # /metrics names every upstream address: it listens on a port of its own, not here.
    app = create_service_app(
        settings, title="gateway", version=installed_version("chore-gateway"), metrics_route=False
    )
    app[RUNNER] = GatewayRunner  # head timeout and problem+json parse errors (protocol.py)
    policy = settings.breaker_policy
    pools = {name: Pool(name, bases, policy) for name, bases in settings.upstreams.items()}
    limit = settings.rate_limit
    proxy = Proxy(
        pools,
        limiter=None if limit is None else RateLimiter(limit, settings.rate_limit_max_clients),
        max_body=settings.max_body_bytes,
        proxies=TrustedProxies(str(network) for network in settings.trusted_proxies),
        timeout_s=settings.upstream_timeout_s,
        client_body_timeout_s=settings.client_body_timeout_s,
    )
    app[PROXY] = proxy
    api_docs = docs.ApiDocs(
        pools, cache_s=settings.docs_cache_s, hidden=frozenset(settings.internal_paths)
    )
    docs.add_routes(app, api_docs)
    for path in settings.internal_paths:
        # An exact path is looked up before any prefix: these never reach a pool.
        app.router.add_route("*", path, _not_routed)
    for name, pool in pools.items():
        route = proxy.handler(pool)
        # Both resources sit under the router's "/{name}" key and are tried in the order
        # they were added: the one nearly every request matches goes first.
        app.router.add_route("*", f"/{name}/{{tail:.*}}", route)
        app.router.add_route("*", f"/{name}", route)
        app[READINESS].add(f"upstream:{name}", _ready_check(pool))
    app.cleanup_ctx.append(metrics_listener(settings))
    app.cleanup_ctx.append(_client_context(settings, proxy, api_docs))
    app.on_shutdown.append(lambda _: proxy.close_sockets())
    return app


async def _not_routed(request: web.Request) -> web.StreamResponse:
    raise web.HTTPNotFound()  # the same answer as any unknown path: nothing to learn


def _ready_check(pool: Pool):  # type: ignore[no-untyped-def]
    async def check() -> None:
        if not pool.is_ready():
            raise NoReadyAddress(pool.name)

    return check


def _client_context(settings: GatewaySettings, proxy: Proxy, api_docs: docs.ApiDocs):  # type: ignore[no-untyped-def]
    async def run(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(
            limit=settings.upstream_connections,
            limit_per_host=0,
            keepalive_timeout=30,
            ttl_dns_cache=300,
        )
        # aiohttp times only the opening of a new connection (sock_connect: rare, they are
        # pooled). `total` or `connect` would arm a timer on every request, and `sock_read`
        # one on every read; the proxy's deadline sweeper (deadlines.py) bounds the whole
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
        # The proxy starts each upstream call's CLIENT span itself (proxy.py): the contrib
        # instrumentation's per-call trace-config signals cost ~13 % of a proxied request.
        AioHttpClientInstrumentor.uninstrument_session(session)
        proxy.session = session
        proxy.loop = asyncio.get_running_loop()
        sweeper = asyncio.create_task(proxy.deadlines.run(), name="gateway-deadlines")
        api_docs.session = session
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
        with contextlib.suppress(Exception):
            await asyncio.sleep(0)  # let the connector's transports close

    return run
