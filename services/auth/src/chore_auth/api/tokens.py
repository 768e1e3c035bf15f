"""/auth/login, /auth/refresh and /auth/introspect: tokens in and out."""

from __future__ import annotations

from typing import TypedDict

from aiohttp import web

from chore_auth.api.schemas import IntrospectIn, IntrospectOut, LoginIn, RefreshIn, TokensOut
from chore_auth.domain.sessions import SessionPolicy
from chore_auth.keys import (
    HASHER,
    KEYRING,
    LOGIN_THROTTLE,
    ON_REVOKED,
    REFRESH_TOKENS,
    SESSION_POLICY,
    UOW,
)
from chore_auth.usecases import login, sessions
from chore_auth.usecases.ports import KeyRing, RefreshTokenMint
from chore_common.auth.principal import VERIFIER
from chore_common.clock import utcnow
from chore_common.http.client_address import client_address
from chore_common.http.openapi import ApiRoutes
from chore_common.http.validation import json_response, parse_body

routes = ApiRoutes()
TAGS = ("auth",)
NO_STORE = {"Cache-Control": "no-store"}  # token responses must not be cached (RFC 6749 5.1)


class _Issuing(TypedDict):
    """What login and refresh alike need to issue a token pair."""

    signer: KeyRing
    mint: RefreshTokenMint
    session_policy: SessionPolicy


def _issuing(app: web.Application) -> _Issuing:
    return _Issuing(
        signer=app[KEYRING], mint=app[REFRESH_TOKENS], session_policy=app[SESSION_POLICY]
    )


@routes.post(
    "/auth/login",
    body=LoginIn,
    response=TokensOut,
    auth=False,
    tags=TAGS,
    summary="Exchange email and password for an access and a refresh token",
    errors=(401, 429),
)
async def log_in(request: web.Request) -> web.Response:
    body = await parse_body(request, LoginIn)
    cmd = login.Login(
        body.email,
        body.password,
        client_ip=client_address(request),
        user_agent=request.headers.get("User-Agent", ""),
    )
    app = request.app
    tokens = await login.login(
        app[UOW],
        cmd,
        now=utcnow(),
        hasher=app[HASHER],
        login_throttle=app[LOGIN_THROTTLE],
        **_issuing(app),
    )
    return json_response(TokensOut.of(tokens), headers=NO_STORE)


@routes.post(
    "/auth/refresh",
    body=RefreshIn,
    response=TokensOut,
    auth=False,
    tags=TAGS,
    summary="Rotate a refresh token: a new pair; reusing an old one revokes the session",
    errors=(401,),
)
async def refresh(request: web.Request) -> web.Response:
    body = await parse_body(request, RefreshIn)
    app = request.app
    tokens = await sessions.refresh(
        app[UOW],
        body.refresh_token,
        now=utcnow(),
        on_revoked=app[ON_REVOKED],
        client_ip=client_address(request),
        **_issuing(app),
    )
    return json_response(TokensOut.of(tokens), headers=NO_STORE)


@routes.post(
    "/auth/introspect",
    body=IntrospectIn,
    response=IntrospectOut,
    auth=False,
    tags=TAGS,
    summary="RFC 7662-style: is this access token active, and whose is it",
)
async def introspect(request: web.Request) -> web.Response:
    body = await parse_body(request, IntrospectIn)
    result = await sessions.introspect(
        request.app[UOW], request.app[VERIFIER], body.token, now=utcnow()
    )
    out = IntrospectOut.of(result)
    return json_response(out.model_dump(exclude_none=True), headers=NO_STORE)
