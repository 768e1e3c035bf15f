"""The gateway's client connections: aiohttp's server protocol with two things it lacks.

- **A request-head timeout.** aiohttp bounds an idle connection (keep-alive) but not a
  request head that has begun and never ends: a client trickling one header byte a second
  held a connection for as long as it liked. Here, once bytes of a head have come and the
  head is not complete, it must be within `head_timeout_s`, or the client gets 408
  `header_timeout` and the connection is closed. A head that arrives whole (nearly every
  one: it fits a packet) never arms the timer; one that comes in pieces arms one
  `call_later` until it is complete.
- **Parse errors as problem+json.** A request aiohttp's parser refuses (a malformed request
  line, a bad header, a header or request line over the limits) never reaches a handler:
  aiohttp answers it itself, as `text/plain` naming the offending bytes and its version,
  and logs a traceback per request. Here the same statuses come as problem+json with a
  request id, counted in `gateway_refused_total{reason}`, without a traceback.

aiohttp has no hook for either (aio-libs/aiohttp#3287 asks for the second), so the gateway's
runner (`GatewayRunner`, used by `chore_common.serving` through the app's RUNNER key) makes
its connections with `GatewayProtocol`, a subclass of aiohttp's `RequestHandler`. It reads
that class's connection state (`_waiter`, `_messages`, `_upgraded`); the tests in
tests/gateway/integration/test_edge_process.py fail if an aiohttp upgrade changes it.

This is the gateway's one module that reaches into aiohttp's private parts (the gateway pins
aiohttp to the minor version tested). The third is on the client side: `no_hidden_retries`
turns off the client session's own retry of an idempotent request on the same connection
pool (aio-libs/aiohttp#10790: no public switch), since the proxy retries itself, once and
on another replica.
"""

from __future__ import annotations

import asyncio
import json
import logging
from http import HTTPStatus
from typing import Any, Final

from aiohttp import ClientSession, http_exceptions, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from chore_common.http.app import SERVER_NAME
from chore_common.http.problem import PROBLEM_JSON, TYPE_BASE, problem_response
from chore_common.keys import SETTINGS
from chore_common.telemetry.requests import REQUEST_ID_HEADER, new_request_id
from chore_gateway.adapters import metrics

log = logging.getLogger(__name__)

_HEAD_TIMEOUT_DETAIL: Final = "The request head did not arrive in time."


def _verdict(status: int, exc: BaseException | None, line_limit: int) -> tuple[int, str, str]:
    """(status, code, detail) for a request the parser refused. The detail never quotes
    the request's bytes: they are the client's, and aiohttp's message echoes them."""
    if isinstance(exc, http_exceptions.LineTooLong):
        # Its arguments: (what was read, the limit it passed, the size).
        if len(exc.args) > 1 and str(exc.args[1]) == str(line_limit):
            return 414, "request_target_too_long", "The request line is longer than allowed."
        return 431, "header_too_large", "A request header is longer than allowed."
    if isinstance(exc, http_exceptions.BadHttpMessage) and "Too many headers" in str(exc):
        return 431, "header_too_large", "The request has more headers than allowed."
    if isinstance(exc, http_exceptions.BadHttpMethod):
        return 400, "malformed_request", "The request line is not HTTP."
    if status == 400:
        return 400, "malformed_request", "The request is not well-formed HTTP/1.1."
    return status, "error", "The request could not be handled."


class GatewayProtocol(RequestHandler):
    """One client connection (see the module docstring)."""

    __slots__ = ("_head_timer", "head_timeout_s")

    def __init__(self, manager: web.Server, *, head_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.head_timeout_s = head_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None

    def _awaiting_head(self) -> bool:
        """Between requests, with no complete head yet (not in a handler, not upgraded)."""
        waiter = self._waiter
        return waiter is not None and not waiter.done() and not self._messages

    def _first_head_pending(self) -> bool:
        """The connection's first bytes came before its request loop first ran."""
        return (
            self._waiter is None
            and self._request_count == 0
            and not self._messages
            and not self._request_in_progress
        )

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_timer is None:
            if (
                (self._awaiting_head() or self._first_head_pending())
                and not self._upgraded
                and self.transport is not None
            ):
                # Part of a head came and the rest has not: it has head_timeout_s to.
                self._head_timer = self._loop.call_later(self.head_timeout_s, self._head_late)
        elif self._messages or not (self._awaiting_head() or self._first_head_pending()):
            self._head_timer.cancel()
            self._head_timer = None

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _head_late(self) -> None:
        self._head_timer = None
        transport = self.transport
        if transport is None or not self._awaiting_head():
            return
        metrics.REFUSED.labels("header_timeout").inc()
        # No request exists yet to answer through: the bytes go straight out, then close.
        transport.write(
            _raw_problem(408, "Request Timeout", "header_timeout", _HEAD_TIMEOUT_DETAIL)
        )
        self.force_close()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            # A handler's own failure escaped (the telemetry maps nearly all of them).
            self.log_exception("Error handling request", exc_info=exc)
        else:
            log.debug("gateway.bad_request", extra={"error": type(exc).__name__})
        if request.writer.output_size > 0:
            # As aiohttp: part of an answer went out, so no other can; the connection ends.
            raise ConnectionError("Response is sent already, cannot send another response")
        status, code, detail = _verdict(status, exc, self.max_line_size)
        metrics.REFUSED.labels(code).inc()
        rid = new_request_id()
        response = problem_response(
            status,
            code=code,
            title=HTTPStatus(status).phrase,
            detail=detail,
            request_id=rid,
            headers={REQUEST_ID_HEADER: rid, "Server": SERVER_NAME},
        )
        response.force_close()
        return response


def _raw_problem(status: int, reason: str, code: str, detail: str) -> bytes:
    rid = new_request_id()
    body = json.dumps(
        {
            "type": f"{TYPE_BASE}{code}",
            "title": reason,
            "status": status,
            "detail": detail,
            "code": code,
            "request_id": rid,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Content-Type: {PROBLEM_JSON}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{REQUEST_ID_HEADER}: {rid}\r\n"
        f"Server: {SERVER_NAME}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class GatewayServer(web.Server):
    """aiohttp's low-level server, making `GatewayProtocol` connections."""

    def __init__(self, *args: Any, head_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_timeout_s = head_timeout_s

    def __call__(self) -> RequestHandler:
        return GatewayProtocol(
            self, loop=self._loop, head_timeout_s=self.head_timeout_s, **self._kwargs
        )


def no_hidden_retries(session: ClientSession) -> None:
    """`session` no longer sends a request again by itself when its connection breaks."""
    session._retry_connection = False


class GatewayRunner(web.AppRunner):
    """The gateway app's runner: the app's own server, with the gateway's protocol and its
    settings' keep-alive and head timeouts."""

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # the app's startup runs here
        settings = self.app[SETTINGS]
        kwargs = dict(plain._kwargs)
        kwargs["keepalive_timeout"] = settings.keepalive_timeout_s  # type: ignore[attr-defined]
        return GatewayServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            head_timeout_s=settings.client_header_timeout_s,  # type: ignore[attr-defined]
            **kwargs,
        )
