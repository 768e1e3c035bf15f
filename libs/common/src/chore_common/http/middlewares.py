"""The common telemetry every request gets: request id -> tracing -> metrics -> access log
-> problem errors. Services append their own middlewares (auth) after it, so auth failures
are still mapped to problem+json, counted, logged and traced.

All five steps run in ONE place (`RequestTelemetry.run`), in that order, with one clock
reading and one route lookup; as separate middlewares they each cost an extra coroutine
frame and try/finally per request. It runs either as the app's middleware
(`RequestTelemetry.middleware()`, every service) or inside each route's handler
(`RequestTelemetry.route`) for an app with no middleware at all: the gateway, where
aiohttp's middleware machinery (a partial per middleware, a cached chain lookup, the
current-app fixer) cost ~7 % of a proxied request's CPU (bench/gateway.py). Metrics and
access lines are made from each request's record in batches (`request_records`).
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Awaitable, Collection
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from chore_common.http import problem
from chore_common.http.request_records import FINISHED, FLUSH_RECORDS
from chore_common.logging import request_id_var
from chore_common.observability import tracing
from chore_common.observability.metrics import UNMATCHED, RequestMetrics

REQUEST_ID_HEADER: Final = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class Draining:
    """Set by `serving` on SIGTERM: responses then carry `Connection: close`, so kept-alive
    clients leave after their current request instead of racing the listener's close."""

    active = False


def route_template(request: web.Request) -> str:
    """`/items/{id}`, never `/items/42`: one metric series and span name per route."""
    resource = request.match_info.route.resource
    return UNMATCHED if resource is None else resource.canonical


def request_id(request: web.Request) -> str | None:
    """The id of the request being handled (the telemetry sets it for the request's task)."""
    return request_id_var.get()


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


class RequestTelemetry:
    """The telemetry of one app's requests (its metrics carry the app's service label)."""

    def __init__(self, metrics: RequestMetrics) -> None:
        self.metrics = metrics

    def middleware(self) -> Middleware:
        """The app-wide middleware: each request's route is looked up as it comes."""
        run = self.run

        # A plain function returning the coroutine: no frame of its own around `run`.
        def telemetry(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
            return run(handler, route_template(request), request)

        telemetry.__middleware_version__ = 1  # type: ignore[attr-defined]  # @web.middleware
        return telemetry

    def route(
        self, handler: Handler, route: str, methods: Collection[str] | None = None
    ) -> Handler:
        """`handler` with the telemetry, for an app without middlewares; register it for
        every method ("*"): one outside `methods` gets a 405 problem here."""
        if methods is None:
            # Positional: a partial holding keywords copies them into a new dict per call.
            return functools.partial(self.run, handler, route)
        allowed = frozenset(methods)
        run = self.run
        refuse = functools.partial(_method_not_allowed, allowed)

        async def checked(request: web.Request) -> web.StreamResponse:
            return await run(handler if request.method in allowed else refuse, route, request)

        return checked

    async def run(self, handler: Handler, route: str, request: web.Request) -> web.StreamResponse:
        start = time.perf_counter()
        headers = request.headers
        span: trace.Span | None = None
        span_token = ids_token = None
        ids: tracing.TraceIds | None = None
        if tracing.is_exporting():
            rid = new_request_id()
            span = _start_span(request, route)
            span_token = otel_context.attach(trace.set_span_in_context(span))
        elif tracing.is_enabled():
            # Nothing exports: the span is its ids alone, kept in one context variable
            # (OTel's span and context objects were ~5 % of a proxied request, counted).
            rid, ids = tracing.server_ids_and_request_id(headers.get(tracing.TRACEPARENT))
            ids_token = tracing.CURRENT_IDS.set(ids)
        else:
            rid = new_request_id()
        incoming = headers.get(REQUEST_ID_HEADER)
        # Anything else (too long, control characters, spaces) would let a client forge or
        # break log lines, so it is replaced rather than cleaned.
        if incoming is not None and _SANE_ID.fullmatch(incoming):
            rid = incoming
        rid_token = request_id_var.set(rid)
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
            seconds = time.perf_counter() - start
            if span is not None:
                ids = tracing.current_ids()
            metrics = self.metrics
            observed = metrics.write_through  # another worker may serve the next scrape
            if observed:
                metrics.observe(request.method, route, status, seconds)
            # The record (see request_records). The path is without its query string: query
            # values may hold tokens (`?token=` on WebSockets). Bodies are never logged.
            pending = FINISHED.pending
            pending.append(
                (
                    time.time(),
                    rid,
                    ids,
                    request.method,
                    route,
                    request.path,
                    status,
                    seconds,
                    request.remote,
                    None if observed else metrics,
                )
            )
            if len(pending) == 1:
                FINISHED.started()
            elif len(pending) >= FLUSH_RECORDS:
                FINISHED.flush()
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


async def _method_not_allowed(allowed: frozenset[str], request: web.Request) -> web.StreamResponse:
    raise web.HTTPMethodNotAllowed(request.method, sorted(allowed))


def set_request_id_header(request: web.Request, response: web.StreamResponse) -> None:
    """For handlers that prepare their own response (WebSocket upgrades, streams): call it
    before `prepare()`, since the middleware only sees the response once it is sent. A
    response signal would cover them automatically but costs every request ~2 µs."""
    rid = request_id_var.get()
    if rid is not None:
        response.headers[REQUEST_ID_HEADER] = rid
    if Draining.active:
        response.force_close()
