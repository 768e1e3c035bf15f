"""/auth/register and /auth/me: one's account, deleted or exported."""

from __future__ import annotations

from aiohttp import web

from chore_auth.api.requests import caller
from chore_auth.api.schemas import (
    AuditEntryOut,
    ExportOut,
    ExportSessionOut,
    PasswordConfirmIn,
    ProfileOut,
    RegisterIn,
    UserOut,
)
from chore_auth.domain.model import Role
from chore_auth.keys import HASHER, LINKS, ON_REVOKED, REFRESH_TOKENS, UOW
from chore_auth.usecases import accounts, deletion
from chore_common.clock import utcnow
from chore_common.http.client_address import client_address
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
    app = request.app
    mail = (app[REFRESH_TOKENS], app[LINKS])
    user = await accounts.register(app[UOW], app[HASHER], cmd, now=utcnow(), mail=mail)
    return json_response(UserOut.of(user), status=201)


@routes.get("/auth/me", response=UserOut, tags=TAGS, summary="The signed-in user")
async def me(request: web.Request) -> web.Response:
    user = await accounts.me(request.app[UOW], caller(request), now=utcnow())
    return json_response(UserOut.of(user))


@routes.delete(
    "/auth/me",
    body=PasswordConfirmIn,
    status=204,
    tags=TAGS,
    summary="Delete my account (password confirmed): sessions end, email and profile erased",
    errors=(403,),
)
async def delete_me(request: web.Request) -> web.Response:
    body = await parse_body(request, PasswordConfirmIn)
    app = request.app
    await deletion.delete_account(
        app[UOW],
        app[HASHER],
        caller(request),
        password=body.password,
        now=utcnow(),
        client_ip=client_address(request),
        on_revoked=app[ON_REVOKED],
    )
    return web.Response(status=204)


@routes.get(
    "/auth/me/export",
    response=ExportOut,
    tags=TAGS,
    summary="Everything auth holds about me, as one JSON document",
)
async def export_me(request: web.Request) -> web.Response:
    now = utcnow()
    found = await deletion.export(request.app[UOW], caller(request), now=now)
    out = ExportOut(
        exported_at=now,
        account=ProfileOut.of(found.user),
        created_at=found.user.created_at,
        email_verified_at=found.user.email_verified_at,
        sessions=[ExportSessionOut.of(s) for s in found.sessions],
        audit=[AuditEntryOut.of(e) for e in found.audit],
    )
    return json_response(out, headers={"Cache-Control": "no-store"})
