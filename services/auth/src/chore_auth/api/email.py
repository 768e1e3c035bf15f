"""/auth/email/verify and /auth/me/email: proving a mailbox, and moving to another."""

from __future__ import annotations

from aiohttp import web

from chore_auth.api.requests import caller
from chore_auth.api.schemas import EmailChangeIn, VerifyIn
from chore_auth.keys import HASHER, LINKS, REFRESH_TOKENS, UOW
from chore_auth.usecases import verification
from chore_common.clock import utcnow
from chore_common.http.client_address import client_address
from chore_common.http.openapi import ApiRoutes
from chore_common.http.validation import parse_body, parse_query

routes = ApiRoutes()
TAGS = ("auth",)


async def _verify(request: web.Request, token: str) -> web.Response:
    app = request.app
    await verification.verify_email(
        app[UOW], app[REFRESH_TOKENS], token, now=utcnow(), client_ip=client_address(request)
    )
    return web.Response(status=204)


@routes.get(
    "/auth/email/verify",
    query=VerifyIn,
    status=204,
    auth=False,
    tags=TAGS,
    summary="Open the mailed verification link (works once)",
    errors=(400,),
)
async def verify_by_link(request: web.Request) -> web.Response:
    return await _verify(request, parse_query(request, VerifyIn).token)


@routes.post(
    "/auth/email/verify",
    body=VerifyIn,
    status=204,
    auth=False,
    tags=TAGS,
    summary="Verify my email with the mailed token (works once)",
    errors=(400,),
)
async def verify(request: web.Request) -> web.Response:
    return await _verify(request, (await parse_body(request, VerifyIn)).token)


@routes.post(
    "/auth/email/verify/resend",
    status=204,
    tags=TAGS,
    summary="Mail my verification link again",
)
async def resend(request: web.Request) -> web.Response:
    app = request.app
    await verification.resend_verification(
        app[UOW], caller(request), mint=app[REFRESH_TOKENS], links=app[LINKS], now=utcnow()
    )
    return web.Response(status=204)


@routes.post(
    "/auth/me/email",
    body=EmailChangeIn,
    status=204,
    tags=TAGS,
    summary="Move my account to another email (unverified until its link is opened)",
    errors=(403, 409, 422),
)
async def change_email(request: web.Request) -> web.Response:
    body = await parse_body(request, EmailChangeIn)
    app = request.app
    await verification.change_email(
        app[UOW],
        app[HASHER],
        caller(request),
        email=body.email,
        password=body.password,
        mint=app[REFRESH_TOKENS],
        links=app[LINKS],
        now=utcnow(),
        client_ip=client_address(request),
    )
    return web.Response(status=204)
