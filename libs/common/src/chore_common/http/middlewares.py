"""The common middleware stack: request id -> tracing -> metrics -> access log -> problem
errors. Services append their own (auth) after these, so auth failures are still mapped to
problem+json, counted, logged and traced.

All five steps run in ONE middleware (`telemetry_middleware`), in that order, with one
clock reading and one route lookup. As separate middlewares they each cost an extra
coroutine frame and try/finally per request; fused, the whole stack stays within the
~25 µs budget of `make bench` (`common.stack_rps_ratio`, ADR 0001).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from chore_common.http import problem
from chore_common.logging import request_id_var, write_request_line
from chore_common.observability import tracing
from chore_common.observability.metrics import UNMATCHED, RequestMetrics

REQUEST_ID_HEADER: Final = "X-Request-ID"
REQUEST_ID: Final = web.RequestKey("chore.request_id", str)
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access_log = logging.getLogger("chore.access")


class Draining:
    """Set by `serving` on SIGTERM: responses then carry `Connection: close`, so kept-alive
    clients leave after their current request instead of racing the listener's close."""

    active = False


def route_template(request: web.Request) -> str:
    """`/items/{id}`, never `/items/42`: one metric series and span name per route."""
    resource = request.match_info.route.resource
    return UNMATCHED if resource is None else resource.canonical


def request_id(request: web.Request) -> str | None:
    return request.get(REQUEST_ID)


def new_request_id() -> str:
    # Uniqueness, not secrecy: the module generator avoids uuid4's urandom syscall.
    return tracing.random_hex(16)


def _start_span(request: web.Request, route: str) -> trace.Span:
    """A real server span, for when spans are exported."""
    headers = request.headers
    parent = propagate.extract(headers) if "traceparent" in headers else None
    return tracing.tracer().start_span(
        f"{request.method} {route}",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": request.method, "http.route": route},
    )


def telemetry_middleware(metrics: RequestMetrics) -> Middleware:
    """Request id, server span, request metrics, access log line and problem+json mapping,
    in that order (`problem_middleware` alone is for apps without the rest)."""

    @web.middleware
    async def telemetry(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        headers = request.headers
        method = request.method
        incoming = headers.get(REQUEST_ID_HEADER)
        # Anything else (too long, control characters, spaces) would let a client forge or
        # break log lines, so it is replaced rather than cleaned.
        rid = incoming if incoming and _SANE_ID.fullmatch(incoming) else new_request_id()
        request[REQUEST_ID] = rid
        rid_token = request_id_var.set(rid)
        route = route_template(request)
        span: trace.Span | None = None
        span_token = ids_token = None
        ids: tracing.TraceIds | None = None
        if tracing.is_exporting():
            span = _start_span(request, route)
            span_token = otel_context.attach(trace.set_span_in_context(span))
        elif tracing.is_enabled():
            # Nothing exports: the span is its ids alone, kept in one context variable
            # (OTel's span and context objects were ~5 % of a proxied request, counted).
            ids = tracing.server_ids(headers.get("traceparent"))
            ids_token = tracing.CURRENT_IDS.set(ids)
        status = 500
        try:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                if exc.status < 400:  # redirects and 304 are answers, not problems
                    raise
                response = problem.from_exception(exc, rid)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Problem mapping lives here too: one frame less per request than a
                # separate middleware, and the mapped status is what gets counted and logged.
                response = problem.from_exception(exc, rid)
            status = response.status
            if not response.prepared:
                response.headers[REQUEST_ID_HEADER] = rid
                if Draining.active:
                    response.force_close()
            return response
        except web.HTTPException as exc:  # redirects and 304s
            status = exc.status
            exc.headers[REQUEST_ID_HEADER] = rid
            raise
        except asyncio.CancelledError:
            status = 499  # the client went away before the answer
            raise
        finally:
            elapsed = time.perf_counter() - start
            metrics.observe(method, route, status, elapsed)
            if span is not None:
                ids = tracing.current_ids()
            # The path without its query string: query values may hold tokens (`?token=` on
            # WebSockets). Bodies are never logged.
            write_request_line(
                access_log,
                method,
                route,
                request.path,
                status,
                elapsed * 1000,
                request.remote,
                ids,
            )
            if span is not None and span.is_recording():
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                span.end()
            if span_token is not None:
                otel_context.detach(span_token)
            if ids_token is not None:
                tracing.CURRENT_IDS.reset(ids_token)
            # Keep-alive requests share one task: do not leak this id into the next request.
            request_id_var.reset(rid_token)

    return telemetry


def set_request_id_header(request: web.Request, response: web.StreamResponse) -> None:
    """For handlers that prepare their own response (WebSocket upgrades, streams): call it
    before `prepare()`, since the middleware only sees the response once it is sent. A
    response signal would cover them automatically but costs every request ~2 µs."""
    rid = request.get(REQUEST_ID)
    if rid is not None:
        response.headers[REQUEST_ID_HEADER] = rid
    if Draining.active:
        response.force_close()


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:  # redirects and 304 are answers, not problems
            raise
        return problem.from_exception(exc, request.get(REQUEST_ID))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return problem.from_exception(exc, request.get(REQUEST_ID))
