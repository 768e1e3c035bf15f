"""The gateway's edge, on a real gateway process: what a client that writes odd HTTP costs
the gateway."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from .conftest import StartUpstream
from .gateway_process import gateway_process, read_answer


async def test_metrics_are_served_on_their_own_port_only(
    start_upstream: StartUpstream, tmp_path: Path
) -> None:
    up = await start_upstream("tasks")
    async with (
        gateway_process(tmp_path, {"tasks": [up.url]}) as gw,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"{gw.url}/metrics") as response:
            assert response.status == 404
            assert (await response.json())["code"] == "not_found"
        async with http.get(gw.metrics_url) as response:
            assert response.status == 200
            assert 'gateway_upstream_up{address="' in await response.text()
        assert not gw.metrics_url.startswith(f"{gw.url}/")


async def test_unique_connection_values_and_header_names_do_not_grow_memory(
    start_upstream: StartUpstream, tmp_path: Path
) -> None:
    """10,000 requests, each with a `Connection` value and header names never seen before:
    the gateway's RSS grows less than 20 MB (it grew by ~450 MB in 240 such requests)."""
    up = await start_upstream("tasks")
    up.record = False
    async with gateway_process(tmp_path, {"tasks": [up.url]}, rate_limit_rps="0") as gw:

        async def client(n: int, first: int, count: int, unique: bool = True) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
            try:
                for i in range(first, first + count):
                    # 24 names of ~1 KB never seen before, and a Connection value likewise
                    # (the one that took the gateway to 526 MiB sent such names by hundreds)
                    tag = i if unique else 0
                    names = [f"X-{tag}-{j}-{'q' * 1000}" for j in range(24)]
                    connection = f"keep-alive, X-Hop-{tag}" + (f", {'c' * 3000}" if i % 2 else "")
                    lines = [f"GET /tasks/echo?i={i} HTTP/1.1", "Host: x",
                             f"Connection: {connection}", *(f"{h}: v" for h in names)]  # fmt: skip
                    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
                    await writer.drain()
                    answer = await read_answer(reader, see_close=False)
                    assert answer.status == 200, answer
            finally:
                writer.close()

        # Warm up with the same names every time: buffers and pools reach their working size.
        await asyncio.gather(*(client(n, n * 100, 100, unique=False) for n in range(8)))
        before = gw.rss_bytes()
        await asyncio.gather(*(client(n, 10_000 + n * 1250, 1250) for n in range(8)))
        grown = gw.rss_bytes() - before
        print(f"\n10,000 unique-header requests: gateway RSS {before / 2**20:.1f} MiB, "
              f"grew {grown / 2**20:.1f} MiB")  # fmt: skip
        assert grown < 20 * 2**20
