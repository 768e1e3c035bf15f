"""/auth/register and /auth/me: one's account."""

from __future__ import annotations

from aiohttp import web

from chore_auth.api.requests import caller
from chore_auth.api.schemas import RegisterIn, UserOut
from chore_auth.domain.model import Role
from chore_auth.keys import HASHER, UOW
from chore_auth.usecases import accounts
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.validation import json_response, parse_body
from chore_common.idempotency.middleware import idempotent

routes = ApiRoutes()
TAGS = ("auth",)


@routes.post(
    "/auth/register",
    body=RegisterIn,
    response=UserOut,
    status=201,
    auth=False,
    tags=TAGS,
    summary="Create an account (client or tasker)",
    errors=(409,),
)
@idempotent
async def register(request: web.Request) -> web.Response:
    body = await parse_body(request, RegisterIn)
    cmd = accounts.Register(body.email, body.password, body.name, Role(body.role))
    user = await accounts.register(request.app[UOW], request.app[HASHER], cmd, now=utcnow())
    return json_response(UserOut.of(user), status=201)


@routes.get("/auth/me", response=UserOut, tags=TAGS, summary="The signed-in user")
async def me(request: web.Request) -> web.Response:
    user = await accounts.me(request.app[UOW], caller(request), now=utcnow())
    return json_response(UserOut.of(user))
