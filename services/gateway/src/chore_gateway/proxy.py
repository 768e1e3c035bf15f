"""The reverse proxy: one handler per routed service, HTTP and WebSocket.

The request path, in order: the client's address (domain/clients.py), rate limit, body
limit, pick an address (round robin over healthy ones whose breaker lets the request
through), forward with the gateway's headers, record the outcome on the address's breaker,
stream the answer back. A connection that cannot be made marks the address down (the
health checks bring it back) and the request is tried once more on another address when
that is safe.
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
from yarl import URL

from chore_common.errors import RateLimited, Unavailable
from chore_common.http.middlewares import new_request_id, set_request_id_header
from chore_common.http.problem import HttpProblem
from chore_common.logging import request_id_var
from chore_common.observability import tracing
from chore_gateway import metrics
from chore_gateway.deadlines import Deadlines
from chore_gateway.domain.breaker import BreakerState
from chore_gateway.domain.clients import TrustedProxies
from chore_gateway.domain.headers import downstream_response_headers, upstream_request_headers
from chore_gateway.domain.pool import Address, Health, Pool
from chore_gateway.domain.ratelimit import RateLimiter
from chore_gateway.websocket import (
    CLOSE_TIMEOUT_S,
    MAX_MESSAGE_BYTES,
    Splice,
    client_socket,
    handshake_problem,
    refused,
    stall_limit,
)

log = logging.getLogger(__name__)

# Bodies up to this size are read whole and sent with a Content-Length (one write each way,
# cheaper than chunks); larger or unsized ones stream through in both directions.
BUFFER_LIMIT: Final = 64 * 1024
_NO_BODY_STATUS: Final = frozenset({204, 304})
_TOO_LARGE: Final = web.RequestKey("gateway.body_too_large", bool)
_IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class BodyTooLarge(Exception):
    """A streamed (chunked) request body passed the limit on its way through."""


def body_too_large(limit: int) -> HttpProblem:
    metrics.REFUSED.labels("body_too_large").inc()
    return HttpProblem(
        413, code="body_too_large", detail=f"The request body is larger than {limit} bytes."
    )


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
    ) -> None:
        self.pools = pools
        self.timeout_s = timeout_s
        self.deadlines = Deadlines()
        self.limiter = limiter
        self.max_body = max_body
        self.proxies = proxies
        self.session: aiohttp.ClientSession | None = None
        self.set_traceparent = True  # off when the client instrumentation injects its own
        self.loop: asyncio.AbstractEventLoop  # set when the app starts (client context)
        self.sockets: set[web.WebSocketResponse] = set()  # open client WebSockets

    def handler(self, pool: Pool) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        # A partial, not a closure around `forward`: one coroutine frame less per request.
        # Positional: a partial holding keywords copies them into a new dict on every call.
        return functools.partial(self.forward, pool)

    # --- HTTP --------------------------------------------------------------------------

    async def forward(self, pool: Pool, request: web.Request) -> web.StreamResponse:
        session = self.session
        assert session is not None, "the proxy's client session starts with the app"
        now = self.loop.time()
        headers_in = request.headers
        peer = request.remote
        proxies = self.proxies
        if proxies and proxies.trusts_peer(peer):
            trusted, client = True, proxies.client(peer, headers_in.get("X-Forwarded-For"))
        else:
            trusted, client = False, peer or "unknown"
        if self.limiter is not None:
            wait = self.limiter.take(client, now)
            if wait:
                metrics.REFUSED.labels("rate_limited").inc()
                raise RateLimited(
                    "Too many requests from this address; slow down.",
                    retry_after=max(1, math.ceil(wait)),
                )
        upgrade = headers_in.get("Upgrade")
        websocket = upgrade is not None and upgrade.lower() == "websocket"
        headers = self._upstream_headers(request, websocket, peer, client, trusted)
        if websocket:
            return await self.websocket(request, pool, headers, now)

        body: bytes | AsyncIterator[bytes] | None = None
        streamed = False
        if request.body_exists:  # most requests have none: no Content-Length to parse
            length = request.content_length
            if length is not None and length > self.max_body:
                raise body_too_large(self.max_body)
            if length is not None and length <= BUFFER_LIMIT:
                body = await request.read()
            else:
                body, streamed = self._stream_body(request), True
        method = request.method
        retry_safe = body is None and method in _IDEMPOTENT_METHODS
        task = request.task  # the handler's task (asyncio.current_task costs more)
        deadlines = self.deadlines
        path = request.raw_path
        exclude: Address | None = None
        while True:
            address = pool.pick(now, exclude)
            deadlines.set(task, now + self.timeout_s)
            try:
                upstream = await session.request(
                    method,
                    URL(address.base + path, encoded=True),
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                )
            except asyncio.CancelledError as exc:
                if not Deadlines.is_late(exc):
                    deadlines.clear(task)
                    address.breaker.release()
                    raise
                task.uncancel()
                self._failed(address, now, "timeout")
                raise self._timeout(pool) from None
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
                # Nothing was sent: any method may go to another address.
                deadlines.clear(task)
                self._down(address, now, "connect")
                if exclude is None and not streamed:
                    exclude = address
                    continue
                raise self._unreachable(pool) from None
            except BodyTooLarge:
                deadlines.clear(task)
                address.breaker.release()
                raise body_too_large(self.max_body) from None
            except TimeoutError:
                deadlines.clear(task)
                self._failed(address, now, "timeout")
                raise self._timeout(pool) from None
            except aiohttp.ClientError:
                deadlines.clear(task)
                if request.get(_TOO_LARGE):  # our body stream stopped it, not the upstream
                    address.breaker.release()
                    raise body_too_large(self.max_body) from None
                # Disconnected mid-request: it may have been handled, so only a safe request
                # (idempotent, no body) is tried again.
                self._failed(address, now, "disconnect")
                if exclude is None and retry_safe:
                    exclude = address
                    continue
                raise self._unreachable(pool) from None
            except BaseException:
                deadlines.clear(task)
                address.breaker.release()
                raise
            break

        try:
            # The deadline stays set: it covers reading the body too.
            status = upstream.status
            breaker = address.breaker
            if status >= 500:
                self._failed(address, now, "status")
            elif breaker.state is not BreakerState.CLOSED:
                breaker.success()
                metrics.publish_breaker(address)
            elif breaker.failures:
                breaker.success()  # the count of failures in a row starts again
            got = upstream.headers
            # A list: aiohttp copies it into the response's own CIMultiDict once.
            out_headers = downstream_response_headers(got.items(), got.get("Connection"))
            length = upstream.content_length
            if (length is None or length > BUFFER_LIMIT) and not (
                status in _NO_BODY_STATUS or method == "HEAD"
            ):
                return await self._stream_back(request, upstream, out_headers, pool, task)
            try:
                data = await upstream.read()
            except asyncio.CancelledError as exc:
                if not Deadlines.is_late(exc):
                    raise
                task.uncancel()
                raise self._timeout(pool) from None
            except aiohttp.ClientError:
                raise self._unreachable(pool) from None
            return web.Response(
                status=status, reason=upstream.reason, body=data, headers=out_headers
            )
        finally:
            deadlines.clear(task)
            upstream.release()

    async def _stream_back(
        self,
        request: web.Request,
        upstream: aiohttp.ClientResponse,
        out_headers: list[tuple[str, str]],
        pool: Pool,
        task: asyncio.Task[object],
    ) -> web.StreamResponse:
        """A large or unsized answer, passed on chunk by chunk as it comes."""
        response = web.StreamResponse(
            status=upstream.status, reason=upstream.reason, headers=out_headers
        )
        if upstream.content_length is not None:
            response.content_length = upstream.content_length
        set_request_id_header(request, response)
        self.deadlines.clear(task)  # a slow client is not the upstream's fault
        await response.prepare(request)
        content = upstream.content
        try:
            while True:
                self.deadlines.set(task, self.loop.time() + self.timeout_s)
                try:
                    chunk = await content.readany()
                except asyncio.CancelledError as exc:
                    if not Deadlines.is_late(exc):
                        raise
                    task.uncancel()
                    raise TimeoutError from None
                self.deadlines.clear(task)
                if not chunk:
                    break
                await response.write(chunk)
        except (TimeoutError, aiohttp.ClientError) as exc:
            # Too late for an error status: cut the client's connection so it sees a
            # truncated body, not a complete-looking one.
            log.warning(
                "gateway.stream_broken", extra={"upstream": pool.name, "error": type(exc).__name__}
            )
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response

    async def _stream_body(self, request: web.Request) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in request.content.iter_any():
            seen += len(chunk)
            if seen > self.max_body:
                request[_TOO_LARGE] = True
                raise BodyTooLarge
            yield chunk

    def _upstream_headers(
        self,
        request: web.Request,
        websocket: bool,
        peer: str | None,
        client: str,
        peer_trusted: bool,
    ) -> list[tuple[str, str]]:
        headers_in = request.headers
        # The context variables the telemetry set (cheaper than request.get).
        rid = request_id_var.get() or new_request_id()
        parent: str | None = None
        if self.set_traceparent:
            ids = tracing.current_ids()
            # With tracing off here the caller's context passes on unchanged.
            parent = tracing.traceparent(ids) if ids else headers_in.get("traceparent")
        return upstream_request_headers(
            headers_in,
            headers_in.items(),
            request_id=rid,
            traceparent=parent,
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

    # --- WebSocket -----------------------------------------------------------------------

    async def websocket(
        self, request: web.Request, pool: Pool, headers: list[tuple[str, str]], now: float
    ) -> web.StreamResponse:
        """Check the client's handshake, open our own WebSocket to an address of the pool,
        accept the client's, then splice the two (chore_gateway.websocket)."""
        session = self.session
        assert session is not None
        offered = [
            p.strip()
            for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ]
        problem = handshake_problem(request, offered)
        if problem is not None:
            raise problem
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
            break
        address.breaker.success()
        try:
            client = client_socket(upstream.protocol)
            set_request_id_header(request, client)
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
