"""The reverse proxy: one handler per routed service, HTTP and WebSocket.

The request path, in order: the client's address (domain/clients.py), rate limit, the
request target, the body (a small one read whole, against the client's own deadline), pick
an address (round robin over healthy ones whose breaker lets the request through), forward
with the gateway's headers, record the outcome on the address's breaker, pass the answer on.
A call that fails is tried once more on another address when domain/retries.py says it may.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from yarl import URL

from chore_common.errors import Unavailable
from chore_common.http import problem
from chore_common.http.problem import HttpProblem
from chore_common.telemetry import tracing
from chore_common.telemetry.requests import new_request_id, request_id, set_request_id_header
from chore_gateway.adapters import metrics
from chore_gateway.adapters.cors import preflight_handler
from chore_gateway.adapters.deadlines import ClientLate, Deadline, Deadlines, UpstreamLate
from chore_gateway.adapters.websocket import (
    CLOSE_TIMEOUT_S,
    MAX_MESSAGE_BYTES,
    Splice,
    client_socket,
    handshake_problem,
    refuse_full,
    refused,
    stall_limit,
)
from chore_gateway.domain.breaker import FAILURE_STATUSES, BreakerState
from chore_gateway.domain.clients import TrustedProxies
from chore_gateway.domain.cors import CorsPolicy
from chore_gateway.domain.headers import downstream_response_headers, upstream_request_headers
from chore_gateway.domain.pool import Address, Health, Pool
from chore_gateway.domain.ratelimit import RateLimiter
from chore_gateway.domain.retries import Failure, may_retry

log = logging.getLogger(__name__)

# Bodies up to this size are read whole and sent with a Content-Length (one write each way,
# cheaper than chunks, and a retry can send them again); larger ones stream through.
BUFFER_LIMIT: Final = 64 * 1024
_NO_BODY_STATUS: Final = frozenset({204, 304})
Fields = tuple[tuple[str, str], ...]  # response headers the gateway adds (rate limit)


class BodyTooLarge(Exception):
    """A streamed (chunked) request body passed the limit on its way through."""


class ClientBodyBroken(Exception):
    """The client hung up (or broke the framing) before its request body was complete."""


def _client_span(method: str, service: str) -> trace.Span | None:
    """The upstream call's CLIENT span, a child of the request's SERVER span. Started here
    with the SDK rather than by the aiohttp-client instrumentation, whose per-call
    trace-config signals cost ~13 % of a proxied request (py-spy, bench/gateway.py).

    None when the request's own span is not recording (not sampled, or no SDK): nothing of
    that trace is recorded, so the upstream gets the SERVER span's context as its parent
    and the gateway spares a span per request for the ones it never exports."""
    if not trace.get_current_span().is_recording():
        return None
    return tracing.tracer().start_span(
        method,
        kind=SpanKind.CLIENT,
        attributes={"http.request.method": method, "server.address": service},
    )


def _traceparent(span: trace.Span | None) -> str | None:
    """The W3C trace context for the upstream (`span`'s, else the current span's), as the
    configured propagator writes it."""
    carrier: dict[str, str] = {}
    tracing.inject(carrier, None if span is None else trace.set_span_in_context(span))
    return carrier.get(tracing.TRACEPARENT)


def body_too_large(limit: int) -> HttpProblem:
    metrics.REFUSED.labels("body_too_large").inc()
    return HttpProblem(
        413, code="body_too_large", detail=f"The request body is larger than {limit} bytes."
    )


def _closing(exc: HttpProblem) -> web.Response:
    """The problem as a response that also ends the connection: the rest of the client's
    body is still on its way (or never coming), so the connection cannot carry another
    request."""
    response = problem.from_exception(exc, request_id())
    response.force_close()
    return response


def _incomplete_body() -> HttpProblem:
    metrics.REFUSED.labels("incomplete_body").inc()
    return HttpProblem(
        400, code="incomplete_body", detail="The request body ended before it was complete."
    )


def _rate_limited(wait: float, fields: Fields) -> HttpProblem:
    metrics.REFUSED.labels("rate_limited").inc()
    return HttpProblem(
        429,
        code="rate_limited",
        title="Too many requests",
        detail="Too many requests from this address; slow down.",
        headers={"Retry-After": str(max(1, math.ceil(wait))), **dict(fields)},
    )


def _websocket_origin_refused(origin: str) -> HttpProblem:
    metrics.REFUSED.labels("websocket_origin").inc()
    return HttpProblem(
        403,
        code="websocket_origin_refused",
        detail=f"The origin {origin[:256]!r} may not open a WebSocket to this API.",
    )


def _not_origin_form() -> HttpProblem:
    metrics.REFUSED.labels("invalid_request_target").inc()
    return HttpProblem(
        400,
        code="invalid_request_target",
        detail="The request target must be a path (origin-form, RFC 9112 3.2.1): the gateway"
        " is not a forward proxy.",
    )


class _Upload:
    """A request body streamed upstream as it arrives. Whose deadline runs is switched as
    it goes: the client's while the gateway waits for its next bytes, the upstream's while
    the upstream takes them and after the last one (its time starts when the body is in)."""

    __slots__ = ("over", "prefix", "started", "verdict")

    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix  # what was read before it turned out too big to buffer
        self.started = False  # a byte went (or was taken for) upstream: no fresh start
        self.over = False  # the attempt ended (answered or failed): hands off the deadline
        self.verdict: type[Exception] | None = None  # set when the client side failed it


class Proxy:
    """Shared by every route: the pools, the limiter and the pooled client session."""

    def __init__(
        self,
        pools: dict[str, Pool],
        *,
        limiter: RateLimiter | None,
        max_body: int,
        proxies: TrustedProxies,
        timeout_s: float,
        client_body_timeout_s: float = 10.0,
        cors: CorsPolicy | None = None,
        ws_max_sockets: int = 1_000_000,
        ws_retry_after_s: int = 5,
    ) -> None:
        self.pools = pools
        self.ws_max_sockets = ws_max_sockets
        self.ws_retry_after_s = ws_retry_after_s
        self.ws_admitted = 0  # WebSockets past admission: opening their upstream, or spliced
        self.cors = cors
        self.timeout_s = timeout_s
        self.client_body_timeout_s = client_body_timeout_s
        self.deadlines = Deadlines()
        self.limiter = limiter
        self.max_body = max_body
        self.proxies = proxies
        self.session: aiohttp.ClientSession | None = None
        self.ws_session: aiohttp.ClientSession | None = None  # upstream WebSockets' own pool
        self.loop: asyncio.AbstractEventLoop  # set when the app starts (client context)
        self.sockets: set[web.WebSocketResponse] = set()  # open client WebSockets

    def handler(self, pool: Pool) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        # A partial, not a closure around `forward`: one coroutine frame less per request.
        # Positional: a partial holding keywords copies them into a new dict on every call.
        return functools.partial(self.forward, pool)

    def preflight(self, pool: Pool) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """OPTIONS with CORS on: preflights answered here, other OPTIONS forwarded."""
        return self.preflight_or(self.handler(pool))

    def preflight_or(self, other: Handler) -> Handler:
        """OPTIONS with CORS on: preflights answered here, other OPTIONS to `other`."""
        assert self.cors is not None, "only routed with CORS on"
        return preflight_handler(self.cors, other)

    # --- HTTP --------------------------------------------------------------------------

    def limited(self, handler: Handler) -> Handler:
        """One of the gateway's own routes under the per-client rate limit of proxied ones:
        429 when the client's bucket is empty, else its answer with the RateLimit fields."""

        async def admitted(request: web.Request) -> web.StreamResponse:
            _, _, fields = self._admit(request, self.loop.time())
            response = await handler(request)
            response.headers.extend(fields)
            return response

        return admitted

    def _admit(self, request: web.Request, now: float) -> tuple[bool, str, Fields]:
        """(the peer is a trusted proxy, the client's address, the RateLimit fields) once a
        token of the client's bucket is spent; 429 when there is none."""
        peer = request.remote
        proxies = self.proxies
        if proxies and proxies.trusts_peer(peer):
            trusted, client = True, proxies.client(peer, request.headers.get("X-Forwarded-For"))
        else:
            trusted, client = False, peer or "unknown"
        limiter = self.limiter
        if limiter is None:
            return trusted, client, ()
        wait = limiter.take(client, now)
        fields = limiter.headers()
        if wait:
            raise _rate_limited(wait, fields)
        return trusted, client, fields

    async def forward(self, pool: Pool, request: web.Request) -> web.StreamResponse:
        now = self.loop.time()
        headers_in = request.headers
        peer = request.remote
        trusted, client, fields = self._admit(request, now)
        path = request.raw_path
        if path[:1] != "/":
            raise _not_origin_form()
        upgrade = headers_in.get("Upgrade")
        websocket = upgrade is not None and upgrade.lower() == "websocket"
        span = _client_span(request.method, pool.name)
        headers = self._upstream_headers(
            request, websocket, peer, client, trusted, _traceparent(span)
        )
        if websocket:
            if span is not None:
                span.end()  # it stands for the handshake: the socket may live for hours
            cors = self.cors
            if cors is not None:
                origin = headers_in.get("Origin")
                if not cors.websocket_allowed(origin, headers_in.get("Host")):
                    raise _websocket_origin_refused(origin or "")
            return await self.websocket(request, pool, headers, now)
        status = 502
        try:
            response = await self._exchange(pool, request, headers, now, fields)
            status = response.status
            return response
        except HttpProblem as exc:
            status = exc.status
            raise
        finally:
            if span is not None:
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                span.end()

    async def _exchange(
        self,
        pool: Pool,
        request: web.Request,
        headers: list[tuple[str, str]],
        now: float,
        fields: Fields,
    ) -> web.StreamResponse:
        """Send the request to one of `pool`'s addresses (a second one when a retry is safe)
        and pass the answer back."""
        body: bytes | None = None
        upload: _Upload | None = None
        if request.body_exists:  # most requests have none: no Content-Length to parse
            length = request.content_length
            if length is not None and length > self.max_body:
                raise body_too_large(self.max_body)
            if length is None or length <= BUFFER_LIMIT:
                try:
                    body, whole = await self._read_body(request)
                except HttpProblem as exc:
                    return _closing(exc)
                if not whole:  # chunked and larger than the buffer: stream the rest
                    upload, body = _Upload(body), None
            else:
                upload = _Upload(b"")
            now = self.loop.time()  # the upstream's time starts once the body is in
        due = now + self.timeout_s  # a retry runs within the same deadline
        exclude: Address | None = None
        while True:
            address = pool.pick(now, exclude)
            answer = await self._attempt(
                pool, address, request, headers, body, upload, now, due, fields
            )
            if not isinstance(answer, Failure):
                return answer
            if (
                exclude is None
                and (upload is None or not upload.started)
                and may_retry(
                    answer, request.method, idempotency_key="Idempotency-Key" in request.headers
                )
            ):
                exclude = address
                metrics.RETRIES.labels(pool.name, answer).inc()
                continue
            raise self._unreachable(pool)

    async def _attempt(
        self,
        pool: Pool,
        address: Address,
        request: web.Request,
        headers: list[tuple[str, str]],
        body: bytes | None,
        upload: _Upload | None,
        now: float,
        due: float,
        fields: Fields,
    ) -> web.StreamResponse | Failure:
        """One call to `address`, within the request's deadline: the answer passed back, or
        the failure that a retry on another address may mend."""
        if upload is not None:
            upload.over = False  # the body's arrivals are the client's time again
        try:
            async with self.deadlines.watch() as deadline:
                deadline.upstream(due)
                return await self._call(
                    address, request, headers, body, upload, deadline, now, fields
                )
        except UpstreamLate:
            self._failed(address, now, "timeout")
            raise self._timeout(pool) from None
        except ClientLate:
            address.breaker.release()
            return _closing(self._client_timeout())
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
            self._down(address, now, "connect")  # nothing was sent
            return Failure.CONNECT
        except aiohttp.ClientError:
            if upload is not None and upload.verdict is not None:
                # Our own side stopped the body (the client's fault), not the upstream.
                address.breaker.release()
                if upload.verdict is BodyTooLarge:
                    raise body_too_large(self.max_body) from None
                return _closing(_incomplete_body())
            # A connection that broke under a request is how a replica that died (or is
            # going) shows: it gets no more until a health check passes, or the pooled
            # connections left to it would fail request after request.
            self._down(address, now, "disconnect")
            return Failure.RESET
        except BaseException:  # the client went away, or the server is stopping
            address.breaker.release()
            raise
        finally:
            if upload is not None:
                upload.over = True

    async def _call(
        self,
        address: Address,
        request: web.Request,
        headers: list[tuple[str, str]],
        body: bytes | None,
        upload: _Upload | None,
        deadline: Deadline,
        now: float,
        fields: Fields,
    ) -> web.StreamResponse:
        """Send the request to `address` and pass its answer on: whole when it is small
        and sized, else as it comes."""
        session = self.session
        assert session is not None, "the proxy's client session starts with the app"
        method = request.method
        upstream = await session.request(
            method,
            URL(address.base + request.raw_path, encoded=True),
            headers=headers,
            data=body if upload is None else self._stream_body(request, upload, deadline),
            allow_redirects=False,
        )
        try:
            if upload is not None:
                upload.over = True  # an early answer: the rest of the body is not timed
            status = upstream.status
            got = upstream.headers
            # A list: aiohttp copies it into the response's own CIMultiDict once.
            out_headers = downstream_response_headers(got.items(), got.get("Connection"))
            if fields:
                out_headers.extend(fields)
            length = upstream.content_length
            if (length is None or length > BUFFER_LIMIT) and not (
                status in _NO_BODY_STATUS or method == "HEAD"
            ):
                self._answered(address, now, status)
                deadline.pause()  # each chunk gets a deadline of its own
                return await self._stream_back(request, upstream, out_headers, address)
            data = await upstream.read()  # the deadline covers the body too
            self._answered(address, now, status)
            return web.Response(
                status=status, reason=upstream.reason, body=data, headers=out_headers
            )
        finally:
            upstream.release()

    def _answered(self, address: Address, now: float, status: int) -> None:
        """The upstream answered: a failure only if it says a dependency failed it."""
        breaker = address.breaker
        if status in FAILURE_STATUSES:
            self._failed(address, now, "status")
        elif breaker.state is not BreakerState.CLOSED:
            breaker.success()
            metrics.publish_breaker(address)
        elif breaker.failures:
            breaker.success()  # the count of failures in a row starts again

    async def _read_body(self, request: web.Request) -> tuple[bytes, bool]:
        """The body, read against the client's deadline (reset by each arrival): (bytes,
        True) when it ended, or (its first bytes, False) once past BUFFER_LIMIT (chunked)."""
        content = request.content
        loop = self.loop
        chunks: list[bytes] = []
        seen = 0
        try:
            async with self.deadlines.watch() as deadline:
                while True:
                    deadline.client(loop.time() + self.client_body_timeout_s)
                    chunk = await content.readany()
                    if not chunk:
                        return b"".join(chunks), True
                    chunks.append(chunk)
                    seen += len(chunk)
                    if seen > self.max_body:
                        raise body_too_large(self.max_body)
                    if seen > BUFFER_LIMIT:
                        return b"".join(chunks), False
        except ClientLate:
            raise self._client_timeout() from None
        except (ConnectionError, web.RequestPayloadError):
            raise _incomplete_body() from None

    async def _stream_body(
        self, request: web.Request, upload: _Upload, deadline: Deadline
    ) -> AsyncIterator[bytes]:
        """The body for aiohttp's writer task, moving the attempt's deadline as it goes."""
        upload.started = True
        loop = self.loop
        seen = len(upload.prefix)
        if upload.prefix:
            yield upload.prefix
        content = request.content
        while True:
            if not upload.over:
                deadline.client(loop.time() + self.client_body_timeout_s)
            try:
                chunk = await content.readany()
            except (ConnectionError, web.RequestPayloadError):
                upload.verdict = ClientBodyBroken
                raise ClientBodyBroken from None
            if not upload.over:
                # Handing it over, and the wait for the answer after the last: its time.
                deadline.upstream(loop.time() + self.timeout_s)
            if not chunk:
                return
            seen += len(chunk)
            if seen > self.max_body:
                upload.verdict = BodyTooLarge
                raise BodyTooLarge
            yield chunk

    async def _stream_back(
        self,
        request: web.Request,
        upstream: aiohttp.ClientResponse,
        out_headers: list[tuple[str, str]],
        address: Address,
    ) -> web.StreamResponse:
        """A large or unsized answer, passed on chunk by chunk as it comes."""
        response = web.StreamResponse(
            status=upstream.status, reason=upstream.reason, headers=out_headers
        )
        if upstream.content_length is not None:
            response.content_length = upstream.content_length
        set_request_id_header(response)
        await response.prepare(request)
        try:
            await self._copy_body(upstream, response)
        except (TimeoutError, aiohttp.ClientError) as exc:
            # Too late for an error status: cut the client's connection so it sees a
            # truncated body, not a complete-looking one.
            late = isinstance(exc, TimeoutError)
            self._failed(address, self.loop.time(), "timeout" if late else "disconnect")
            error = "TimeoutError" if late else type(exc).__name__  # as the log always said
            log.warning(
                "gateway.stream_broken", extra={"upstream": address.service, "error": error}
            )
            if request.transport is not None:
                request.transport.close()
            return response
        except ConnectionError:
            return response  # the client left while its answer was on the way
        finally:
            upstream.release()
        await response.write_eof()
        return response

    async def _copy_body(
        self, upstream: aiohttp.ClientResponse, response: web.StreamResponse
    ) -> None:
        """The upstream's body to the client; each chunk due within the upstream timeout."""
        content = upstream.content
        loop = self.loop
        async with self.deadlines.watch() as deadline:
            while True:
                deadline.upstream(loop.time() + self.timeout_s)
                chunk = await content.readany()
                deadline.pause()  # a slow client is not the upstream's fault
                if not chunk:
                    return
                await response.write(chunk)

    def _upstream_headers(
        self,
        request: web.Request,
        websocket: bool,
        peer: str | None,
        client: str,
        peer_trusted: bool,
        traceparent: str | None,
    ) -> list[tuple[str, str]]:
        headers_in = request.headers
        return upstream_request_headers(
            headers_in,
            headers_in.items(),
            request_id=request_id() or new_request_id(),
            traceparent=traceparent,
            peer=peer,
            client=client,
            peer_trusted=peer_trusted,
            proto=request.scheme,
            host=headers_in.get("Host"),
            websocket=websocket,
        )

    async def close_sockets(self) -> None:
        """On shutdown: open WebSockets would hold the process for the whole grace period;
        each gets 1001 (going away), and so does its upstream."""
        await asyncio.gather(
            *(
                # No drain: a client that reads nothing would hold the shutdown.
                ws.close(code=1001, message=b"gateway shutting down", drain=False)
                for ws in list(self.sockets)
            ),
            return_exceptions=True,
        )

    # --- outcomes ------------------------------------------------------------------------

    def _failed(self, address: Address, now: float, kind: str) -> None:
        before = address.breaker.state
        # Open from when the failure was seen, not from when the request began (`now`): a
        # timeout as long as breaker_open_s would otherwise open a breaker already expired.
        address.breaker.failure(max(now, self.loop.time()))
        metrics.UPSTREAM_FAILURES.labels(address.service, kind).inc()
        if address.breaker.state is not before:
            metrics.publish_breaker(address)
            if address.breaker.state is BreakerState.OPEN:
                log.warning(
                    "gateway.breaker_opened",
                    extra={"upstream": address.base, "service": address.service},
                )

    def _down(self, address: Address, now: float, kind: str) -> None:
        self._failed(address, now, kind)
        if address.health is not Health.DOWN:
            address.health = Health.DOWN
            metrics.publish_health(address)
            log.warning(
                "gateway.upstream_down",
                extra={"upstream": address.base, "service": address.service, "reason": kind},
            )

    def _unreachable(self, pool: Pool) -> Unavailable:
        metrics.REFUSED.labels("upstream_unreachable").inc()
        return Unavailable(
            f"The {pool.name} service could not be reached; try again shortly.",
            retry_after=1,
            code="upstream_unreachable",
        )

    def _timeout(self, pool: Pool) -> HttpProblem:
        metrics.REFUSED.labels("upstream_timeout").inc()
        return HttpProblem(
            504,
            code="upstream_timeout",
            detail=f"The {pool.name} service did not answer in time.",
        )

    def _client_timeout(self) -> HttpProblem:
        metrics.REFUSED.labels("body_timeout").inc()
        return HttpProblem(
            408,
            code="body_timeout",
            detail=f"No more of the request body came for {self.client_body_timeout_s:g} s.",
        )

    # --- WebSocket -----------------------------------------------------------------------

    async def websocket(
        self, request: web.Request, pool: Pool, headers: list[tuple[str, str]], now: float
    ) -> web.StreamResponse:
        """Check the client's handshake, open our own WebSocket to an address of the pool,
        accept the client's, then splice the two (adapters/websocket.py)."""
        offered = [
            p.strip()
            for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ]
        problem = handshake_problem(request, offered)
        if problem is not None:
            raise problem
        if self.ws_admitted >= self.ws_max_sockets:
            return await refuse_full(request, offered, self.ws_retry_after_s)
        self.ws_admitted += 1
        metrics.WEBSOCKETS_OPEN.inc()
        try:
            return await self._splice(request, pool, headers, offered, now)
        finally:
            self.ws_admitted -= 1
            metrics.WEBSOCKETS_OPEN.dec()

    async def _splice(
        self,
        request: web.Request,
        pool: Pool,
        headers: list[tuple[str, str]],
        offered: list[str],
        now: float,
    ) -> web.StreamResponse:
        upstream = await self._open_upstream_socket(request, pool, headers, offered, now)
        try:
            client = client_socket(upstream.protocol)
            set_request_id_header(client)
            await client.prepare(request)
            self.sockets.add(client)
            try:
                splice = Splice(
                    client,
                    upstream,
                    request.transport,
                    deadlines=self.deadlines,
                    stall_s=stall_limit(request.app),
                    service=pool.name,
                )
                await splice.run()
            finally:
                self.sockets.discard(client)
            return client
        finally:
            if not upstream.closed:  # the splice was cut short (cancelled, shutdown, error)
                await upstream.close(code=1001, message=b"gateway going away")

    async def _open_upstream_socket(
        self,
        request: web.Request,
        pool: Pool,
        headers: list[tuple[str, str]],
        offered: list[str],
        now: float,
    ) -> aiohttp.ClientWebSocketResponse:
        """Our WebSocket to an address of `pool`, on another one if the first cannot be
        reached."""
        session = self.ws_session or self.session
        assert session is not None
        exclude: Address | None = None
        while True:
            address = pool.pick(now, exclude)
            try:
                async with asyncio.timeout(self.timeout_s):
                    upstream = await session.ws_connect(
                        URL(address.base + request.raw_path, encoded=True),
                        protocols=offered,
                        headers=headers,
                        autoclose=False,
                        autoping=True,
                        max_msg_size=MAX_MESSAGE_BYTES,
                        timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_TIMEOUT_S),
                    )
            except aiohttp.WSServerHandshakeError as exc:
                # The upstream answered, and not with a WebSocket.
                if exc.status >= 500:
                    self._failed(address, now, "status")
                else:
                    address.breaker.success()
                raise refused(pool.name, request.path, exc.status, exc.message) from None
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
                self._down(address, now, "connect")
                if exclude is None:
                    exclude = address
                    continue
                raise self._unreachable(pool) from None
            except TimeoutError:
                self._failed(address, now, "timeout")
                raise self._timeout(pool) from None
            except aiohttp.ClientError:
                self._failed(address, now, "disconnect")
                raise self._unreachable(pool) from None
            except BaseException:
                address.breaker.release()
                raise
            address.breaker.success()
            return upstream
