"""`/docs`: the routed services' OpenAPI documents in one swagger-ui page.

Assets come from the `swagger-ui-bundle` wheel and are served by the gateway itself under
`/docs/assets/`: the page loads nothing from elsewhere (it works offline and under a strict
CSP). Each service's document is fetched from one of its healthy addresses' `/openapi.json`,
kept `docs_cache_s`, and served at `/docs/<service>.json`; swagger-ui's drop-down switches
between them. Their paths already carry the service prefix (`/tasks/...`), so "Try it out"
goes through the gateway, on the page's own origin.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Final

import aiohttp
from aiohttp import web
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from chore_common.errors import NotFound, Unavailable
from chore_common.http.app import add_traced_route
from chore_gateway.domain.pool import Health, Pool

ASSETS: Final = Path(swagger_ui_path)

_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>chore platform API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
<style>body {{ margin: 0 }} .topbar {{ display: none }}</style>
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  urls: {urls},
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout"
}});
</script>
</body>
</html>
"""


class ApiDocs:
    def __init__(
        self, pools: dict[str, Pool], *, cache_s: float, hidden: frozenset[str] = frozenset()
    ) -> None:
        self.pools = pools
        self.cache_s = cache_s
        self.hidden = hidden  # paths the gateway does not forward: not offered to try
        self.session: aiohttp.ClientSession | None = None
        self._cache: dict[str, tuple[float, bytes]] = {}
        urls = [{"url": f"/docs/{name}.json", "name": name} for name in pools]
        self.page = _PAGE.format(urls=json.dumps(urls)).encode()

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(body=self.page, content_type="text/html", charset="utf-8")

    async def document(self, request: web.Request) -> web.Response:
        name = request.match_info["service"]
        pool = self.pools.get(name)
        if pool is None:
            raise NotFound(f"No routed service is called {name!r}.")
        now = asyncio.get_running_loop().time()
        cached = self._cache.get(name)
        if cached is None or now - cached[0] > self.cache_s:
            body = await self._fetch(pool)
            self._cache[name] = cached = (now, body)
        return web.Response(body=cached[1], content_type="application/json")

    async def _fetch(self, pool: Pool) -> bytes:
        assert self.session is not None
        ordered = sorted(pool.addresses, key=lambda a: a.health is not Health.UP)
        for address in ordered:
            try:
                async with self.session.get(
                    address.base + "/openapi.json", timeout=aiohttp.ClientTimeout(total=3)
                ) as response:
                    if response.status != 200:
                        continue
                    document: dict[str, Any] = await response.json()
            except (aiohttp.ClientError, TimeoutError, ValueError):
                continue
            # Served from the gateway's origin: a server list naming the service's own
            # address would send "Try it out" around the gateway.
            document.pop("servers", None)
            paths = document.get("paths")
            if isinstance(paths, dict):
                for path in self.hidden & paths.keys():
                    del paths[path]
            return json.dumps(document).encode()
        raise Unavailable(
            f"The {pool.name} service's API document could not be fetched.", retry_after=1
        )


class Assets:
    """swagger-ui's files, by name: only those in the folder at start-up are ever served, so
    no path a client writes can reach anything else."""

    def __init__(self, folder: Path = ASSETS) -> None:
        self.files = {p.name: p for p in folder.iterdir() if p.is_file()}

    async def file(self, request: web.Request) -> web.StreamResponse:
        path = self.files.get(request.match_info["name"])
        if path is None:
            raise NotFound("No such asset.")
        return web.FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


def add_routes(app: web.Application, docs: ApiDocs) -> None:
    add_traced_route(app, "GET", "/docs", docs.index)
    add_traced_route(app, "GET", "/docs/", docs.index)
    add_traced_route(app, ("GET", "HEAD"), "/docs/assets/{name}", Assets().file)
    add_traced_route(app, "GET", "/docs/{service:[a-z]+}.json", docs.document)
