"""`GET /me/export`: everything the platform holds about the caller, as one JSON document.

Each routed service exports its own data on `GET /<service>/me/export` with the caller's
token; the gateway asks them all at once and nests their answers under `services`. No
service calls another: the gateway assembles, as it already routes (docs/auth.md).

Any part that is not a 200 decides the answer: a refusal (401 for a bad token, 403) is
passed on as the service gave it, auth's first; a service that does not answer makes the
whole export 503 `export_incomplete`, since a partial export would read as complete.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from chore_common.clock import utcnow
from chore_common.errors import Unavailable
from chore_gateway.keys import EXPORTS


async def export(request: web.Request) -> web.Response:
    exports = request.app[EXPORTS]
    names = exports.services
    answers = await asyncio.gather(
        *(exports.fetch(name, request.headers) for name in names), return_exceptions=True
    )
    # Every call has ended (none left running unheard); the first failure decides.
    parts = []
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
        parts.append(answer)
    for part in parts:
        if part.status != 200:
            if part.status >= 500:
                raise Unavailable(
                    "A service could not export its part; try again.", code="export_incomplete"
                )
            return web.Response(
                status=part.status,
                body=part.body,
                headers={"Content-Type": part.content_type, "Cache-Control": "no-store"},
            )
    document = {
        "exported_at": utcnow().isoformat(),
        "services": {name: json.loads(part.body) for name, part in zip(names, parts, strict=True)},
    }
    return web.json_response(document, headers={"Cache-Control": "no-store"})
