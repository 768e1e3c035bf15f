"""/auth/.well-known/jwks.json: the public keys that verify access tokens."""

from __future__ import annotations

from aiohttp import web

from chore_auth.api.schemas import JwksOut
from chore_auth.keys import KEYRING
from chore_auth.settings import AuthSettings
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.validation import json_response
from chore_common.keys import SETTINGS

routes = ApiRoutes()
TAGS = ("auth",)


@routes.get(
    "/auth/.well-known/jwks.json",
    response=JwksOut,
    auth=False,
    tags=TAGS,
    summary="Public keys that verify access tokens",
)
async def jwks(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    max_age = settings.jwks_max_age_s if isinstance(settings, AuthSettings) else 300
    document = request.app[KEYRING].jwks(utcnow())
    return json_response(document, headers={"Cache-Control": f"public, max-age={max_age}"})
