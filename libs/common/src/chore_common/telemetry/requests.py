"""The telemetry every request gets, as one middleware: request id, server span, metric and
access line.

`create_service_app` installs `RequestTelemetry.middleware()` first, then the problem
middleware (exceptions become RFC 9457 responses), then the service's own (auth): auth
failures are mapped to problem+json inside the telemetry, so the status counted and logged
is the one the client sees. For each request, in order:

1. its request id: a sane incoming `X-Request-ID`, else a new one (`request_id()` reads it);
2. a SERVER span from OpenTelemetry's SDK, continuing the caller's W3C `traceparent`,
   sampled or not as the configured sampler says (a span not sampled is non-recording);
3. the rest of the chain and the handler;
4. when it ends: the span's status, the request metric (`telemetry.metrics`), and the
   access line (`telemetry.access_log`); a client that went away first counts as 499.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from chore_common.telemetry import tracing
from chore_common.telemetry.access_log import ACCESS_LOG, AccessLog, RequestRecord
from chore_common.telemetry.logs import request_id_var
from chore_common.telemetry.metrics import UNMATCHED, RequestMetrics

REQUEST_ID_HEADER: Final = "X-Request-ID"
CLIENT_GONE: Final = 499  # nginx's status for "the client closed the connection first"
# Anything else (too long, control characters, spaces) would let a client forge or break
# log lines, so it is replaced rather than cleaned.
_SANE_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class Draining:
    """Set by `serving` on SIGTERM: responses then carry `Connection: close`, so kept-alive
    clients leave after their current request instead of racing the listener's close."""

    active = False


def route_template(request: web.Request) -> str:
    """`/items/{id}`, never `/items/42`: one metric series and span name per route."""
    resource = request.match_info.route.resource
    return UNMATCHED if resource is None else resource.canonical


def request_id() -> str | None:
    """The id of the request being handled (the telemetry sets it for the request's task)."""
    return request_id_var.get()


def new_request_id() -> str:
    # Uniqueness, not secrecy: the random module spares uuid4's urandom call per request.
    return f"{random.getrandbits(128):032x}"


def set_request_id_header(response: web.StreamResponse) -> None:
    """For handlers that prepare their own response (WebSocket upgrades, streams): call it
    before `prepare()`, since the middleware only sees the response once it is sent."""
    rid = request_id_var.get()
    if rid is not None:
        response.headers[REQUEST_ID_HEADER] = rid
    if Draining.active:
        response.force_close()


class RequestTelemetry:
    """The telemetry of one app's requests (its metrics carry the app's service label)."""

    def __init__(self, metrics: RequestMetrics, access_log: AccessLog = ACCESS_LOG) -> None:
        self.metrics = metrics
        self.access_log = access_log

    def middleware(self) -> Middleware:
        @web.middleware
        async def telemetry(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self.handle(request, handler)

        return telemetry

    async def handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        route = route_template(request)
        if route == UNMATCHED and isinstance(
            request.match_info.http_exception, web.HTTPMethodNotAllowed
        ):
            route = await _route_refusing_the_method(request)
        incoming = request.headers.get(REQUEST_ID_HEADER)
        rid = incoming if incoming and _SANE_ID.fullmatch(incoming) else new_request_id()
        rid_token = request_id_var.set(rid)
        # start_span and attach rather than start_as_current_span: the same SDK calls without
        # three nested generator context managers per request (~4 us, measured).
        span = _server_span(request, route)
        span_token = otel_context.attach(trace.set_span_in_context(span))
        status = 500
        try:
            response = await handler(request)
            status = response.status
            if not response.prepared:
                response.headers[REQUEST_ID_HEADER] = rid
                if Draining.active:
                    response.force_close()
            return response
        except web.HTTPException as exc:  # redirects and 304 (the rest are problems)
            status = exc.status
            exc.headers[REQUEST_ID_HEADER] = rid
            raise
        except asyncio.CancelledError:
            status = CLIENT_GONE
            raise
        finally:
            otel_context.detach(span_token)
            _end_span(span, status)
            seconds = time.perf_counter() - started
            self.metrics.observe(request.method, route, status, seconds)
            self.access_log.add(
                RequestRecord(
                    time.time(), rid, tracing.span_ids(span), request.method, route,
                    request.path, status, seconds, request.remote,
                )
            )  # fmt: skip
            # Keep-alive requests share one task: do not leak this id into the next request.
            request_id_var.reset(rid_token)


async def _route_refusing_the_method(request: web.Request) -> str:
    """The template of the route a 405 came from (the router keeps no resource for it)."""
    for candidate in request.app.router.resources():
        _, allowed = await candidate.resolve(request)
        if allowed:
            return candidate.canonical
    return UNMATCHED


def _server_span(request: web.Request, route: str) -> trace.Span:
    parent = tracing.extract(request.headers) if tracing.TRACEPARENT in request.headers else None
    return tracing.tracer().start_span(
        f"{request.method} {route}",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": request.method, "http.route": route},
    )


def _end_span(span: trace.Span, status: int) -> None:
    if span.is_recording():
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
    span.end()
