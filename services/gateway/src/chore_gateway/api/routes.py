"""The gateway's route table: `/docs`, the paths it never forwards, and one pool per routed
service (`/auth/*`, `/tasks/*`, `/messaging/*`).

Every route goes on the app from the kit's `create_service_app`, the ordinary aiohttp way,
so each one runs under the common telemetry and problem middlewares (app.py).
"""

from __future__ import annotations

from aiohttp import web

from chore_gateway.api import dev_mail, docs, export
from chore_gateway.keys import DEV_MAIL, DOCUMENTS, PROXY
from chore_gateway.settings import GatewaySettings


def add_routes(app: web.Application, settings: GatewaySettings) -> None:
    proxy = app[PROXY]
    api_docs = docs.ApiDocs(
        proxy.pools,
        app[DOCUMENTS],
        cache_s=settings.docs_cache_s,
        hidden=frozenset(settings.internal_paths),
    )
    router = app.router
    router.add_get("/docs", api_docs.index, allow_head=False)
    router.add_get("/docs/", api_docs.index, allow_head=False)
    router.add_get("/docs/assets/{name}", docs.Assets().file)
    router.add_get("/docs/{service:[a-z]+}.json", api_docs.document, allow_head=False)
    # Three services' reads per call: under the same per-client limit as proxied requests.
    router.add_get("/me/export", proxy.limited(export.export), allow_head=False)
    if proxy.cors is not None:
        router.add_route("OPTIONS", "/me/export", proxy.preflight_or(_get_only))
    if DEV_MAIL in app:  # `make run` only
        dev_mail.add_routes(router)
    for path in settings.internal_paths:
        # An exact path is looked up before any prefix: these never reach a pool.
        router.add_route("*", path, _not_routed)
    cors = proxy.cors is not None
    for name, pool in proxy.pools.items():
        route = proxy.handler(pool)
        # Both resources sit under the router's "/{name}" key and are tried in the order
        # they were added: the one nearly every request matches goes first.
        for path in (f"/{name}/{{tail:.*}}", f"/{name}"):
            if cors:
                # The same resource: its routes are a dict by method, so this costs the
                # other methods nothing.
                router.add_route("OPTIONS", path, proxy.preflight(pool))
            router.add_route("*", path, route)


async def _get_only(request: web.Request) -> web.StreamResponse:
    """An OPTIONS that is no preflight, on a route of the gateway's own: as without CORS."""
    raise web.HTTPMethodNotAllowed(request.method, ["GET"])


async def _not_routed(request: web.Request) -> web.StreamResponse:
    raise web.HTTPNotFound()  # the same answer as any unknown path: nothing to learn
