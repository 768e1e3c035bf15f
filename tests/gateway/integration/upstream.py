"""A small stand-in upstream: the routes the proxy tests need, under any service prefix.

It records what it received (headers, close codes) so tests can assert what crossed the
gateway. `ready` toggles its /readyz; `failing` makes /<svc>/echo answer `fail_status`;
`dropping` makes it cut the connection instead of answering (as a replica killed while
handling it), after `delay_s`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from chore_common.testing.nats import free_port


@dataclass
class Upstream:
    name: str
    server: TestServer | None = None
    ready: bool = True
    failing: bool = False
    fail_status: int = 500
    record: bool = True  # keep what /echo received in `seen`
    dropping: bool = False
    delay_s: float = 0.0
    arrived: int = 0  # requests to /echo and /upload whose head reached this upstream
    seen: list[dict[str, Any]] = field(default_factory=list)
    ws_closes: asyncio.Queue[tuple[int | None, str]] = field(default_factory=asyncio.Queue)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/openapi.json", self.openapi)
        app.router.add_route("*", "/{svc}/echo", self.echo)
        app.router.add_get("/{svc}/slow", self.slow)
        app.router.add_get("/{svc}/big", self.big)
        app.router.add_post("/{svc}/upload", self.upload)
        app.router.add_get("/{svc}/ws", self.websocket)
        app.router.add_get("/{svc}/me/export", self.export)
        return app

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        return web.json_response({"ready": self.ready}, status=200 if self.ready else 503)

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "openapi": "3.1.0",
                "info": {"title": self.name, "version": "1"},
                "servers": [{"url": self.url}],
                "paths": {f"/{self.name}/echo": {"get": {"summary": "echo"}}},
            }
        )

    async def echo(self, request: web.Request) -> web.Response:
        self.arrived += 1
        body = await request.read()
        record = {
            "upstream": self.name,
            "method": request.method,
            "path_qs": request.path_qs,
            "headers": dict(request.headers),
            "body": body.decode(errors="replace"),
        }
        if self.record:
            self.seen.append(record)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.dropping and request.transport is not None:
            request.transport.abort()
            raise ConnectionResetError("dropped")
        if self.failing:
            return web.json_response({"error": "boom"}, status=self.fail_status)
        return web.json_response(record, headers={"X-Upstream": self.name})

    async def export(self, request: web.Request) -> web.Response:
        """A service's part of the platform export: 401 without a token, else what it was
        sent (so a test sees the caller's headers crossed), or `fail_status` when failing."""
        self.arrived += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.failing:
            return web.json_response({"error": "boom"}, status=self.fail_status)
        if "Authorization" not in request.headers:
            problem = {"status": 401, "code": "unauthenticated", "upstream": self.name}
            return web.json_response(problem, status=401, content_type="application/problem+json")
        return web.json_response({"service": self.name, "headers": dict(request.headers)})

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("s", "2")))
        return web.json_response({"slow": True})

    async def big(self, request: web.Request) -> web.StreamResponse:
        # Chunked, no Content-Length: the gateway must stream it, not buffer it.
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        for i in range(int(request.query.get("chunks", "64"))):
            await response.write(bytes([i % 256]) * 16384)
        await response.write_eof()
        return response

    async def upload(self, request: web.Request) -> web.Response:
        self.arrived += 1
        total = 0
        async for chunk in request.content.iter_any():
            total += len(chunk)
        return web.json_response({"received": total})

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("bearer",))
        transport = request.transport
        await ws.prepare(request)
        await ws.send_str(f"hello from {self.name}; token={_token(request)}")
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                if msg.data == "drop" and transport is not None:  # the process dies
                    transport.abort()
                    break
                if msg.data.startswith("close:"):
                    _, code, reason = msg.data.split(":", 2)
                    await ws.close(code=int(code), message=reason.encode())
                    break
                await ws.send_str(f"echo:{msg.data}")
            elif msg.type is WSMsgType.BINARY:
                await ws.send_bytes(msg.data[::-1])
        await self.ws_closes.put((ws.close_code, ""))
        return ws

    async def start(self) -> None:
        self.server = TestServer(self.app(), host="127.0.0.1", port=free_port())
        await self.server.start_server()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()


def _token(request: web.Request) -> str:
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    return offered[1] if len(offered) > 1 and offered[0] == "bearer" else "-"
