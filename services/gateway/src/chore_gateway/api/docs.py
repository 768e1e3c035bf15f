"""`/docs`: the routed services' OpenAPI documents in one swagger-ui page.

swagger-ui 5 (it reads OpenAPI 3.1, which the services publish; the 4.x it replaced showed
"Unable to render this definition") comes vendored in the `swagger-ui-py` wheel; the gateway
serves the few files the page needs under `/docs/assets/`. The page loads nothing from
elsewhere, and its CSP says so to the browser: scripts, styles, images and fetches only from
the gateway's own origin, the one inline script pinned by its hash, no validator badge.

Each service's document is fetched from one of its healthy addresses' `/openapi.json`
(adapters/documents.py, through the `DocumentSource` port), kept `docs_cache_s`, and served
at `/docs/<service>.json`; the top bar's "Select a definition" switches between them (and
`?urls.primaryName=tasks` links to one). Their paths already carry the service prefix
(`/tasks/...`), so "Try it out" goes through the gateway, on the page's own origin.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Final

from aiohttp import web

from chore_common.errors import NotFound, Unavailable
from chore_gateway.domain.pool import Pool
from chore_gateway.keys import DocumentSource


def _swagger_ui_folder() -> Path:
    # Located without importing the package: its framework glue would pull in Jinja2 and
    # PyYAML for nothing.
    spec = importlib.util.find_spec("swagger_ui")
    assert spec is not None, "swagger-ui-py is not installed"
    assert spec.origin is not None
    return Path(spec.origin).parent / "static"


ASSETS: Final = _swagger_ui_folder()
# What the page loads; the wheel's other files (swagger-editor, source maps) are not served.
SERVED: Final = frozenset(
    {
        "swagger-ui.css",
        "index.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
        "favicon-16x16.png",
    }
)

_SCRIPT: Final = """
window.ui = SwaggerUIBundle({
  urls: %s,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout"
});
"""

_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chore platform API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="stylesheet" href="/docs/assets/index.css">
<link rel="icon" type="image/png" sizes="32x32" href="/docs/assets/favicon-32x32.png">
<link rel="icon" type="image/png" sizes="16x16" href="/docs/assets/favicon-16x16.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script>{script}</script>
</body>
</html>
"""


def _csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' 'sha256-{digest}'",
            # swagger-ui sets style attributes; its icons are data: SVGs.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


class ApiDocs:
    def __init__(
        self,
        pools: dict[str, Pool],
        documents: DocumentSource,
        *,
        cache_s: float,
        hidden: frozenset[str] = frozenset(),
    ) -> None:
        self.pools = pools
        self.documents = documents
        self.cache_s = cache_s
        self.hidden = hidden  # paths the gateway does not forward: not offered to try
        self._cache: dict[str, tuple[float, bytes]] = {}
        urls = [{"url": f"/docs/{name}.json", "name": name} for name in pools]
        # "<" escaped: no service name can close the <script> it is written into.
        script = _SCRIPT % json.dumps(urls).replace("<", "\\u003c")
        self.page = _PAGE.format(script=script).encode()
        self.headers = {
            "Content-Security-Policy": _csp(script),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.page, content_type="text/html", charset="utf-8", headers=self.headers
        )

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
        document = await self.documents.fetch(pool)
        if document is None:
            raise Unavailable(
                f"The {pool.name} service's API document could not be fetched.", retry_after=1
            )
        # Served from the gateway's origin: a server list naming the service's own
        # address would send "Try it out" around the gateway.
        document.pop("servers", None)
        paths = document.get("paths")
        if isinstance(paths, dict):
            for path in self.hidden & paths.keys():
                del paths[path]
        return json.dumps(document).encode()


class Assets:
    """swagger-ui's files, by name: only those named in `SERVED` are ever served, so no path
    a client writes can reach anything else."""

    def __init__(self, folder: Path = ASSETS, names: frozenset[str] = SERVED) -> None:
        self.files = {name: folder / name for name in names if (folder / name).is_file()}
        missing = names - self.files.keys()
        assert not missing, f"swagger-ui-py lacks {sorted(missing)}"

    async def file(self, request: web.Request) -> web.StreamResponse:
        path = self.files.get(request.match_info["name"])
        if path is None:
            raise NotFound("No such asset.")
        return web.FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})
