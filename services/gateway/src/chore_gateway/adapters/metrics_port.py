"""`/metrics` on a port of its own (`GATEWAY_METRICS_PORT`), never on the public one.

The gateway's series name every upstream address (`gateway_upstream_up{address=...}`), and
its public port is the Internet's way in: Prometheus scrapes this port instead, which
neither the gateway's Service nor the Ingress exposes (deploy/, checked by
tests/deploy/policy.py). With `GATEWAY_WORKERS` > 1 every worker listens on it
(SO_REUSEPORT) and any of them answers for all (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from chore_common.http.app import SERVER_NAME, metrics_handler
from chore_gateway.keys import METRICS_URL
from chore_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


async def _unversioned_server(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = SERVER_NAME


def create_metrics_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler)
    app.on_response_prepare.append(_unversioned_server)
    return app


def metrics_listener(
    settings: GatewaySettings,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context: the metrics port is open while the gateway app runs (the drain
    after SIGTERM included, so the last scrape still sees it)."""

    async def listen(app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(create_metrics_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(
            runner, settings.host, settings.metrics_port, reuse_port=settings.workers > 1
        )
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        host, port = runner.addresses[0][:2]
        app[METRICS_URL] = url = f"http://{host}:{port}/metrics"
        log.info("gateway.metrics_listening", extra={"url": url})
        yield
        await runner.cleanup()

    return listen
