"""The gateway as `python -m chore_gateway` runs it (its own process, its own runner and
connection protocol), in front of stand-in upstreams, and a raw HTTP/1.1 client for what a
well-behaved client library would never send."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from chore_common.testing.nats import free_port


@dataclass
class GatewayProcess:
    proc: asyncio.subprocess.Process
    port: int
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        for line in reversed(self.lines):
            if '"gateway.metrics_listening"' in line:
                return str(json.loads(line)["url"])
        raise AssertionError("the gateway never said where /metrics listens")

    def rss_bytes(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        assert match is not None
        return int(match.group(1)) * 1024


async def _ok(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


@asynccontextmanager
async def gateway_process(
    var_dir: Path, upstreams: dict[str, list[str]], **settings: str
) -> AsyncIterator[GatewayProcess]:
    """A gateway process on a free port (its metrics on any free port), ready once /readyz
    says every pool has a healthy address; stopped with SIGTERM afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "OTEL_"))}
    env.update(
        GATEWAY_PORT=str(port),
        GATEWAY_METRICS_PORT="0",
        GATEWAY_VAR_DIR=str(var_dir),
        GATEWAY_UPSTREAMS=json.dumps(upstreams),
        GATEWAY_HEALTH_INTERVAL_S="0.2",
        GATEWAY_SHUTDOWN_DRAIN_S="0",
        OTEL_SDK_DISABLED="true",
        PYTHONUNBUFFERED="1",
    )
    env.update({f"GATEWAY_{k.upper()}": v for k, v in settings.items()})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chore_gateway",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        limit=1 << 20,
    )
    running = GatewayProcess(proc, port)

    async def read() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            running.lines.append(line.decode(errors="replace").rstrip("\n"))

    reader = asyncio.create_task(read())
    try:
        deadline = time.monotonic() + 30
        while not await _ok(f"{running.url}/readyz"):
            assert proc.returncode is None, "\n".join(running.lines[-20:])
            assert time.monotonic() < deadline, "\n".join(running.lines[-20:])
            await asyncio.sleep(0.05)
        yield running
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        await reader


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server ended the connection after it


async def raw_exchange(port: int, data: bytes, *, wait_s: float = 5.0) -> RawAnswer:
    """Send `data` as is and read one answer (up to `wait_s`)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await read_answer(reader, wait_s)
    finally:
        writer.close()


async def read_answer(
    reader: asyncio.StreamReader, wait_s: float = 5.0, *, see_close: bool = True
) -> RawAnswer:
    """One answer; with `see_close`, also whether the server closed the connection after
    it (which takes up to half a second to tell when it did not)."""
    async with asyncio.timeout(wait_s):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    closed = False
    if see_close:
        with contextlib.suppress(TimeoutError):
            closed = await asyncio.wait_for(reader.read(1), 0.5) == b""
    return RawAnswer(status, headers, body, closed)
