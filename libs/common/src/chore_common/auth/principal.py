"""Who is calling: the bearer middleware and the typed `Principal` handlers read.

Routes declare their gate; handlers never parse tokens:

```python
@routes.post("/tasks", body=TaskIn, response=TaskOut, status=201)  # auth=True by default
@requires("client")                                                 # role gate: else 403
async def create_task(request: web.Request) -> web.Response:
    who = principal(request)                                        # Principal(user_id, ...)
```

A route needs a bearer token when its `ApiRoutes` declaration says `auth=True` (the default)
or when it carries `@requires(...)`; plain aiohttp routes (`/healthz`, `/metrics`) do not.
Failures raise `Unauthorized` (401) and `Forbidden` (403), which the common problem
middleware renders, so this middleware goes after the common stack.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from uuid import UUID

from aiohttp import web
from aiohttp.typedefs import Handler

from chore_common.auth.jwks import JwksCache
from chore_common.auth.revocation import RevocationFeed, RevokedSessions
from chore_common.auth.verify import Claims, InvalidToken, TokenVerifier
from chore_common.errors import Forbidden, Unauthorized
from chore_common.http.openapi import OPERATION_ATTR
from chore_common.settings import ServiceSettings

REQUIRES_ATTR: Final = "__chore_requires__"
VERIFIER = web.AppKey("chore.auth.verifier", TokenVerifier)
REVOKED = web.AppKey("chore.auth.revoked", RevokedSessions)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: UUID
    session_id: UUID
    role: str
    expires_at: int = 0  # epoch seconds: when the token stops being valid (sockets use it)
    email_verified: bool = False  # the token's `ev` claim

    @classmethod
    def of(cls, claims: Claims) -> Principal:
        try:
            return cls(UUID(claims.sub), UUID(claims.sid), claims.role, claims.exp, claims.ev)
        except ValueError:
            raise InvalidToken("Token claims are malformed.") from None


@dataclass(frozen=True, slots=True)
class Gate:
    roles: frozenset[str]
    query_token: bool = False


PRINCIPAL: Final = web.RequestKey("chore.principal", Principal)

_KNOWN_MAX = 10_000
# Claims -> Principal. A Principal is a pure function of its claims, and the verifier's cache
# hands back the same Claims object for a repeated token, so this lookup is one hash and an
# identity match instead of two UUID parses per request (seen in the cached GET profile).
_known: dict[Claims, Principal] = {}


def _principal_of(claims: Claims) -> Principal:
    who = _known.get(claims)
    if who is None:
        who = Principal.of(claims)
        if len(_known) >= _KNOWN_MAX:
            del _known[next(iter(_known))]  # oldest first: enough for a bounded memo
        _known[claims] = who
    return who


def requires(*roles: str, query_token: bool = False) -> Callable[[F], F]:
    """Gate a handler: a valid bearer token, and one of `roles` when any are given (else 403).

    `query_token=True` also accepts `?token=` (WebSocket clients that cannot set headers).
    Returns the handler itself, so it stacks with `ApiRoutes` decorators in either order.
    """

    def mark(handler: F) -> F:
        setattr(handler, REQUIRES_ATTR, Gate(frozenset(roles), query_token))
        return handler

    return mark


def _gate_of(request: web.Request) -> Gate | None:
    handler = request.match_info.handler
    gate: Gate | None = getattr(handler, REQUIRES_ATTR, None)
    if gate is not None:
        return gate
    # aiohttp answers HEAD with the GET route's handler, so HEAD passes the GET's gate.
    method = "GET" if request.method == "HEAD" else request.method
    for op in getattr(handler, OPERATION_ATTR, ()):
        if op.method == method and op.auth:
            return Gate(frozenset())
    return None


def bearer_token(request: web.Request, *, query_token: bool = False) -> str | None:
    """The token from `Authorization: Bearer`, `Sec-WebSocket-Protocol: bearer, <jwt>`,
    or (only when allowed) `?token=`."""
    header = request.headers.get("Authorization")
    if header:
        scheme, _, token = header.partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None
    protocols = request.headers.get("Sec-WebSocket-Protocol")
    if protocols:
        parts = [p.strip() for p in protocols.split(",")]
        if len(parts) >= 2 and parts[0].lower() == "bearer":
            return parts[1] or None
    if query_token:
        return request.query.get("token") or None
    return None


async def authenticate(request: web.Request, *, query_token: bool = False) -> Principal:
    """Verify the request's bearer token and remember the principal on the request."""
    token = bearer_token(request, query_token=query_token)
    if token is None:
        raise Unauthorized("A bearer token is required.", code="missing_token")
    # The app's own mapping first: `config_dict` builds a chain over every nested app on each
    # access, a measurable share of a cached GET; sub-apps still find the root's verifier.
    verifier = request.app.get(VERIFIER)
    if verifier is None:
        verifier = request.config_dict[VERIFIER]
    claims = await verifier.verify(token)
    who = _principal_of(claims)
    request[PRINCIPAL] = who
    return who


@web.middleware
async def bearer_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    gate = _gate_of(request)
    if gate is not None:
        who = await authenticate(request, query_token=gate.query_token)
        if gate.roles and who.role not in gate.roles:
            raise Forbidden("Your role may not do this.", code="wrong_role")
    return await handler(request)


def principal(request: web.Request) -> Principal:
    """The authenticated caller; 401 if the route was not gated (a programming slip)."""
    try:
        return request[PRINCIPAL]
    except KeyError:
        raise Unauthorized("A bearer token is required.", code="missing_token") from None


def verifier_context(
    settings: ServiceSettings,
    *,
    nats: Callable[[web.Application], Any] | None = None,
    token_ttl_s: float = 900.0,
    leeway_s: float = 5.0,
    jwks_ttl_s: float = 300.0,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx: `app[VERIFIER]` from auth's JWKS, `app[REVOKED]` fed from NATS.

    Put it after the NATS context; `nats(app)` returns the connected client (by default
    `app[chore_common.bus.connection.NATS_CLIENT]`).
    """

    def default_nats(app: web.Application) -> Any:
        from chore_common.bus.connection import NATS_CLIENT

        return app[NATS_CLIENT]

    client = default_nats if nats is None else nats

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        keys = JwksCache(settings.jwks_url, ttl_s=jwks_ttl_s)
        await keys.start()
        revoked = RevokedSessions(token_ttl_s=token_ttl_s, leeway_s=leeway_s)
        feed = RevocationFeed(client(app), revoked)
        await feed.start()
        app[REVOKED] = revoked
        app[VERIFIER] = TokenVerifier(
            keys,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_s=leeway_s,
            revoked=revoked,
        )
        try:
            yield
        finally:
            await feed.stop()
            await keys.close()

    return ctx
