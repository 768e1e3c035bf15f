"""/auth/password, /auth/password/forgot and /auth/password/reset."""

from __future__ import annotations

import asyncio

from aiohttp import web

from chore_auth.api.requests import caller
from chore_auth.api.schemas import AcceptedOut, ForgotIn, PasswordChangeIn, ResetIn
from chore_auth.keys import HASHER, LINKS, ON_REVOKED, REFRESH_TOKENS, SPAWN, UOW
from chore_auth.settings import AuthSettings
from chore_auth.usecases import passwords
from chore_common.clock import utcnow
from chore_common.http.client_address import client_address
from chore_common.http.openapi import ApiRoutes
from chore_common.http.validation import json_response, parse_body
from chore_common.keys import SETTINGS

routes = ApiRoutes()
TAGS = ("auth",)
# One body for every address, known or not: the answer tells nothing about accounts.
FORGOT_ANSWER = AcceptedOut(
    detail="If an account uses this address, a link to reset its password is on its way."
)


@routes.post(
    "/auth/password",
    body=PasswordChangeIn,
    status=204,
    tags=TAGS,
    summary="Change my password; every other session of mine ends",
    errors=(403, 422),
)
async def change_password(request: web.Request) -> web.Response:
    body = await parse_body(request, PasswordChangeIn)
    app = request.app
    await passwords.change_password(
        app[UOW],
        app[HASHER],
        caller(request),
        current=body.current_password,
        new=body.new_password,
        now=utcnow(),
        client_ip=client_address(request),
        on_revoked=app[ON_REVOKED],
    )
    return web.Response(status=204)


@routes.post(
    "/auth/password/forgot",
    body=ForgotIn,
    response=AcceptedOut,
    status=202,
    auth=False,
    tags=TAGS,
    summary="Mail a password-reset link (the same answer for any address)",
)
async def forgot_password(request: web.Request) -> web.Response:
    loop = asyncio.get_running_loop()
    answer_at = loop.time() + _answer_s(request.app)
    body = await parse_body(request, ForgotIn)
    app = request.app
    # The lookup and the mail run beside the answer, which leaves at a fixed time after the
    # request came in: neither its body nor its timing tells whether the address has an
    # account (the work differs by a few inserts, and would show under load).
    app[SPAWN](
        passwords.forgot_password(
            app[UOW],
            body.email,
            mint=app[REFRESH_TOKENS],
            links=app[LINKS],
            now=utcnow(),
            client_ip=client_address(request),
        )
    )
    await asyncio.sleep(max(0.0, answer_at - loop.time()))
    return json_response(FORGOT_ANSWER, status=202)


def _answer_s(app: web.Application) -> float:
    settings = app[SETTINGS]
    return settings.forgot_answer_s if isinstance(settings, AuthSettings) else 0.1


@routes.post(
    "/auth/password/reset",
    body=ResetIn,
    status=204,
    auth=False,
    tags=TAGS,
    summary="Set a new password with a mailed link's token; every session ends",
    errors=(400, 422),
)
async def reset_password(request: web.Request) -> web.Response:
    body = await parse_body(request, ResetIn)
    app = request.app
    await passwords.reset_password(
        app[UOW],
        app[HASHER],
        token=body.token,
        password=body.password,
        mint=app[REFRESH_TOKENS],
        now=utcnow(),
        client_ip=client_address(request),
        on_revoked=app[ON_REVOKED],
    )
    return web.Response(status=204)
