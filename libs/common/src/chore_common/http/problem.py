"""RFC 9457 problem+json: the one place where exceptions become HTTP error responses.

Domains raise `chore_common.errors` classes and know no status codes; `STATUS` maps them.
HTTP-level failures found while parsing a request (bad JSON, wrong content type, body too
large, validation) raise `HttpProblem`. aiohttp's own `HTTPException`s (unknown route,
wrong method) pass through with their status but in the same problem+json shape. A client
that hung up (`ClientDisconnected`) is a 499 that nobody receives: it is logged and counted
as the client's doing, never as a 5xx of ours.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy import exc as sa_exc

from chore_common.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from chore_common.telemetry.requests import request_id

log = logging.getLogger(__name__)

PROBLEM_JSON: Final = "application/problem+json"
TYPE_BASE: Final = "https://chore.dev/problems/"

STATUS: Final[Mapping[type[DomainError], int]] = {
    BadRequest: 400,
    NotFound: 404,
    Conflict: 409,
    Forbidden: 403,
    Unauthorized: 401,
    PreconditionFailed: 412,
    InvalidInput: 422,
    RateLimited: 429,
    Unavailable: 503,
}


CLIENT_CLOSED: Final = 499  # nginx's "Client Closed Request": not an HTTP status anyone sees


class ClientDisconnected(Exception):
    """The client went away before its request was read in full: no one to answer, and
    nothing failed here (a 503 would tell a gateway's breaker that this service is down)."""


class HttpProblem(Exception):
    """An HTTP-level failure with everything its problem+json response needs."""

    def __init__(
        self,
        status: int,
        *,
        code: str,
        detail: str,
        title: str | None = None,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.errors = errors
        self.headers = headers


def problem_response(
    status: int,
    *,
    code: str,
    title: str,
    detail: str,
    request_id: str | None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> web.Response:
    """`extra` adds RFC 9457 extension members (e.g. the failing checks on /readyz)."""
    body: dict[str, Any] = {
        "type": f"{TYPE_BASE}{code}" if code else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
    }
    if errors is not None:
        body["errors"] = list(errors)
    if extra:
        body.update(extra)
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode(),
        content_type=PROBLEM_JSON,
        headers=headers,
    )


def _status_of(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        status = STATUS.get(cls)
        if status is not None:
            return int(status)
    return 500


def _code_of_status(status: int) -> str:
    try:
        return HTTPStatus(status).name.lower()
    except ValueError:
        return "error"


def from_exception(exc: BaseException, request_id: str | None) -> web.Response:
    """The problem+json response for `exc`; unknown exceptions give a bare 500."""
    if isinstance(exc, ClientDisconnected):
        return problem_response(
            CLIENT_CLOSED,
            code="client_closed_request",
            title="Client Closed Request",
            detail="The client closed the connection before the request was read.",
            request_id=request_id,
        )
    if isinstance(exc, HttpProblem):
        return problem_response(
            exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            request_id=request_id,
            errors=exc.errors,
            headers=exc.headers,
        )
    if isinstance(exc, DomainError):
        return _domain_problem(exc, request_id)
    if isinstance(exc, web.HTTPException):
        return _aiohttp_problem(exc, request_id)
    down = database_unreachable(exc)
    if down is not None:
        return _database_problem(exc, down, request_id)
    return _internal_error(exc, request_id)


def _domain_problem(exc: DomainError, request_id: str | None) -> web.Response:
    status = _status_of(exc)
    if status == 500:
        return _internal_error(exc, request_id)
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimited | Unavailable):
        headers["Retry-After"] = str(exc.retry_after)
    return problem_response(
        status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        request_id=request_id,
        headers=headers,
    )


def _aiohttp_problem(exc: web.HTTPException, request_id: str | None) -> web.Response:
    # aiohttp's own: keep the status and the headers that matter (Allow on 405).
    passthrough = {k: v for k, v in exc.headers.items() if k.lower() in ("allow",)}
    status = exc.status
    return problem_response(
        status,
        code=_code_of_status(status),
        title=exc.reason,
        detail=exc.text if exc.text and not exc.text.startswith(f"{status}:") else exc.reason,
        request_id=request_id,
        headers=passthrough,
    )


def _database_problem(
    exc: BaseException, down: tuple[str, str], request_id: str | None
) -> web.Response:
    code, detail = down
    # Logged without a traceback: the cause is outside this process, and a database
    # outage would otherwise print one per request.
    log.warning("http.dependency_unavailable", extra={"code": code, "error": repr(exc)[:300]})
    return problem_response(
        503,
        code=code,
        title="Service Unavailable",
        detail=detail,
        request_id=request_id,
        headers={"Retry-After": "1"},
    )


def database_unreachable(exc: BaseException) -> tuple[str, str] | None:
    """(code, detail) when `exc` says the database is unreachable or saturated: the request
    failed for want of the database, not because of a bug or of what it sent: 503 +
    Retry-After tells the client to come back (a create retried with its Idempotency-Key
    cannot happen twice). Tasks' group commit asks too: only these fail a whole batch."""
    if isinstance(exc, sa_exc.TimeoutError):  # every pooled connection stayed busy
        return "database_busy", "Every database connection is busy; try again shortly."
    # A driver error that is also a ValueError (asyncpg's "invalid input for query
    # argument" is an InterfaceError too) is about a value sent, not the connection.
    if isinstance(getattr(exc, "orig", None), ValueError):
        return None
    if (
        # refused or reset while connecting; the driver's "connection lost" family
        isinstance(exc, ConnectionError | sa_exc.OperationalError | sa_exc.InterfaceError)
        or (isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated)
    ):
        return "database_unavailable", "The database cannot be reached; try again shortly."
    return None


def _internal_error(exc: BaseException, request_id: str | None) -> web.Response:
    # The traceback goes to the log (request_id comes from context); the body says nothing.
    log.error("http.unhandled_error", exc_info=exc, extra={"error": type(exc).__name__})
    return problem_response(
        500,
        code="internal_error",
        title="Internal Server Error",
        detail="Something went wrong on our side. Quote the request id when reporting it.",
        request_id=request_id,
    )


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every exception below it becomes its problem+json response (redirects and 304, which
    are answers, pass on; so does a cancellation)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return from_exception(exc, request_id())
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return from_exception(exc, request_id())
