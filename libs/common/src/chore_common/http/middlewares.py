"""The common middleware stack, outermost first: request id -> tracing -> metrics -> access
log -> problem errors. Services append their own (auth) after these, so auth failures are
still mapped to problem+json, counted, logged and traced.

Every middleware here runs on every request, so each keeps its hot path to a few dict
lookups: the whole stack must cost well under the ~25 µs a bare handler takes (see
`make bench`, figure `common.stack_rps_ratio`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from chore_common.http import problem
from chore_common.logging import request_id_var
from chore_common.observability.metrics import UNMATCHED, RequestMetrics
from chore_common.observability.tracing import tracer

REQUEST_ID_HEADER: Final = "X-Request-ID"
REQUEST_ID: Final = web.RequestKey("chore.request_id", str)
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access_log = logging.getLogger("chore.access")


def route_template(request: web.Request) -> str:
    """`/items/{id}`, never `/items/42`: one metric series and span name per route."""
    resource = request.match_info.route.resource
    return UNMATCHED if resource is None else resource.canonical


def request_id(request: web.Request) -> str | None:
    return request.get(REQUEST_ID)


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get(REQUEST_ID_HEADER)
    # Anything else (too long, control characters, spaces) would let a client forge or
    # break log lines, so it is replaced rather than cleaned.
    rid = incoming if incoming and _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = rid
    token = request_id_var.set(rid)
    try:
        return await handler(request)
    finally:
        # Keep-alive requests share one task: do not leak this id into the next request.
        request_id_var.reset(token)


async def echo_request_id(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """on_response_prepare: covers every response, WebSocket upgrades and errors included."""
    rid = request.get(REQUEST_ID)
    if rid is not None:
        response.headers[REQUEST_ID_HEADER] = rid


@web.middleware
async def tracing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Hand-written rather than the contrib aiohttp-server middleware: that one also records
    # its own metrics on every request and costs several times more (ADR 0001).
    headers = request.headers
    parent = propagate.extract(headers) if "traceparent" in headers else None
    route = route_template(request)
    span = tracer().start_span(
        f"{request.method} {route}",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": request.method, "http.route": route},
    )
    token = otel_context.attach(trace.set_span_in_context(span, parent))
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        otel_context.detach(token)
        span.end()


def metrics_middleware(metrics: RequestMetrics) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = 499  # the client went away before the answer
            raise
        finally:
            metrics.observe(
                request.method, route_template(request), status, time.perf_counter() - start
            )

    return middleware


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499
        raise
    finally:
        # The path without its query string: query values may hold tokens (`?token=` on
        # WebSockets); bodies are never logged.
        access_log.info(
            "http.request",
            extra={
                "method": request.method,
                "route": route_template(request),
                "path": request.path,
                "status": status,
                "duration_ms": round((time.perf_counter() - start) * 1000, 3),
                "remote": request.remote,
            },
        )


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
