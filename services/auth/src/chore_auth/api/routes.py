"""/auth over HTTP: parse, call one use case, render. Errors are raised, never caught."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from chore_auth.api.schemas import (
    IntrospectIn,
    IntrospectOut,
    JwksOut,
    LoginIn,
    RefreshIn,
    RegisterIn,
    SessionOut,
    SessionsOut,
    TokensOut,
    UserOut,
)
from chore_auth.domain.errors import SessionNotFound
from chore_auth.domain.model import Role
from chore_auth.keys import DEPS, KEYRING
from chore_auth.settings import AuthSettings
from chore_auth.usecases import accounts, login, sessions
from chore_auth.usecases.deps import Caller
from chore_common.auth.principal import principal
from chore_common.clock import utcnow
from chore_common.http.client_address import client_address
from chore_common.http.openapi import ApiRoutes
from chore_common.http.pagination import PageQuery, decode_keyset, encode_keyset
from chore_common.http.validation import json_response, parse_body, parse_query
from chore_common.idempotency.middleware import idempotent
from chore_common.keys import SETTINGS

routes = ApiRoutes()
TAGS = ("auth",)
NO_STORE = {"Cache-Control": "no-store"}  # token responses must not be cached (RFC 6749 5.1)


def caller(request: web.Request) -> Caller:
    who = principal(request)
    return Caller(user_id=who.user_id, session_id=who.session_id)


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
    deps = request.app[DEPS]
    user = await accounts.register(deps.uow, deps.hasher, cmd, now=utcnow())
    return json_response(UserOut.of(user), status=201)


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
    tokens = await login.login(request.app[DEPS], cmd, now=utcnow())
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
    tokens = await sessions.refresh(request.app[DEPS], body.refresh_token, now=utcnow())
    return json_response(TokensOut.of(tokens), headers=NO_STORE)


@routes.post("/auth/logout", status=204, tags=TAGS, summary="Revoke the current session")
async def log_out(request: web.Request) -> web.Response:
    await sessions.logout(request.app[DEPS], caller(request), now=utcnow())
    return web.Response(status=204)


@routes.get("/auth/me", response=UserOut, tags=TAGS, summary="The signed-in user")
async def me(request: web.Request) -> web.Response:
    user = await accounts.me(request.app[DEPS], caller(request), now=utcnow())
    return json_response(UserOut.of(user))


@routes.get(
    "/auth/sessions",
    query=PageQuery,
    response=SessionsOut,
    tags=TAGS,
    summary="My active sessions, newest first",
)
async def list_sessions(request: web.Request) -> web.Response:
    page = parse_query(request, PageQuery)
    who = caller(request)
    found = await sessions.list_sessions(request.app[DEPS], who, now=utcnow())
    if page.cursor is not None:
        mark = decode_keyset(page.cursor)
        found = [s for s in found if (s.created_at, s.id) < mark]
    items = found[: page.limit]
    next_cursor = None
    if len(found) > page.limit:
        next_cursor = encode_keyset(items[-1].created_at, items[-1].id)
    out = SessionsOut(
        items=[SessionOut.of(s, who.session_id) for s in items], next_cursor=next_cursor
    )
    return json_response(out)


@routes.delete(
    "/auth/sessions/{session_id}",
    status=204,
    tags=TAGS,
    summary="Revoke one of my sessions",
    errors=(404,),
)
async def revoke_session(request: web.Request) -> web.Response:
    try:
        session_id = UUID(request.match_info["session_id"])
    except ValueError:
        raise SessionNotFound("No such session.") from None
    await sessions.revoke_session(request.app[DEPS], caller(request), session_id, now=utcnow())
    return web.Response(status=204)


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
    result = await sessions.introspect(request.app[DEPS], body.token, now=utcnow())
    out = IntrospectOut.of(result)
    return json_response(out.model_dump(exclude_none=True), headers=NO_STORE)


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
