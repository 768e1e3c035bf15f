"""Ten thousand sockets on one messaging replica, and through the gateway (issue 27).

Each run starts its servers afresh (RSS growth is only honest in a process that never held
the sockets before), each its own process pinned to core 0, the receivers one epoll client
(bench/wsclient.py) on the other core:
- a messaging replica (its runner, real NATS, SQLite, tokens verified through JWKS) and a
  bare aiohttp broadcast server (bench/messaging.py's);
- the gateway (as deployed, its rate limit too big to refuse) and a bare aiohttp WebSocket
  proxy (one ClientSession, two copy loops per socket), both in front of that replica.

Per run, side by side: 10,000 authenticated sockets opened straight to the replica and
subscribed to one conversation (RSS growth per socket; then one message to all of them,
deliveries per second of server CPU), the same 10,000 to the bare server; then 9,400 sockets
opened at once (1,000 handshakes in flight) through the gateway and through the bare proxy:
accepted per second, and the proxy process's RSS growth per socket. Through a proxy each
socket costs two file descriptors there, and the limit here is 20,000 per process: 9,400
plus 200 warm-up sockets is what fits.

`python -m bench --only sockets10k` runs it; `python -m bench.sockets10k profile [direct|
gateway]` samples the replica (or the gateway) with py-spy while the sockets open and idle.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common_stack import cpu_seconds
from bench.figures import Description, Figure, median
from bench.loadgen import generator_cpu, percentile
from bench.machine import server_env
from bench.messaging import (
    BARE_PATH,
    WS_PATH,
    Side,
    _pin,
    _wait_ready,
    fanout_side,
    messaging_base,
    open_conversations,
    serve_bare,
)
from chore_common.testing.nats import free_port

SOCKETS = 10_000
PROXIED = 9_400  # through a proxy: two descriptors each there, 20,000 per process
WARM = 200  # opened first: what the first sockets warm up (imports, caches) is not per socket
TOKENS = 500  # per participant, each its own session; sockets take them in turn
IN_FLIGHT = 1_000  # the storm's handshakes in flight at once
OPEN_BATCH = 500  # handshakes in flight while the sockets of a figure open
FANOUT_MESSAGES = 6
FANOUT_WARMUP = 2
SERVER_CPU = 0

DESCRIPTIONS = {
    "messaging.sockets10k_kib_per_socket": Description(
        measures=f"RSS growth of one messaging replica per socket: {SOCKETS:,} sockets opened"
        " straight to it, each authenticated (a JWT verified through JWKS) and subscribed to"
        f" one conversation, then idle; measured after {WARM} warm-up sockets, in a replica"
        " started for the run.",
        ceiling="a bare aiohttp WebSocket server's RSS growth for the same sockets (bench/"
        "messaging.py's broadcast server, no authentication, no subscription)",
        limits="aiohttp's own objects per socket (request, protocol, WebSocket reader and"
        " writer, transport) dominate; messaging adds its Connection (slots, no task, no"
        " queue while idle), the registry's and subscriptions' set entries, the presence"
        " watch and the verified principal.",
    ),
    "gateway.sockets10k_kib_per_socket": Description(
        measures=f"RSS growth of one gateway process per proxied socket: {PROXIED:,} sockets"
        " opened at once through it to the messaging replica (two sockets each in the"
        " gateway: the client's and the upstream's).",
        ceiling="a bare aiohttp WebSocket proxy's RSS growth for the same sockets (one"
        " ClientSession, a copy task per direction)",
        limits="aiohttp's objects for two WebSockets per client, plus the splice's two copy"
        " tasks (the bare proxy has them too).",
    ),
    "messaging.fanout10k_ratio": Description(
        measures=f"Deliveries per second of server CPU: one message sent into a conversation"
        f" with {SOCKETS:,} subscribed sockets on one replica, fanned out to all; the next is"
        " sent once the last socket has it. The last socket's p50/p99 in the note.",
        ceiling=f"a bare aiohttp app sending the frame it receives to its {SOCKETS:,} sockets",
        limits="The writes: the frame is built once, the same bytes written straight to each"
        " socket's transport.",
    ),
    "messaging.connect_storm_per_s": Description(
        measures=f"{PROXIED:,} sockets connecting at once through the gateway to one replica"
        f" ({IN_FLIGHT:,} handshakes in flight, as after a restart without jitter): accepted"
        " (101 and the upstream's handshake done) per second of wall clock.",
        ceiling="the same storm through a bare aiohttp WebSocket proxy to the same replica",
        limits="Both proxies and the replica share core 0: the replica's handshake (token"
        " check, registry, presence) is in both rates.",
    ),
}


def _log(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    with contextlib.suppress(OSError):
        return len(os.listdir(f"/proc/{pid}/fd"))
    return 0


# -- servers -----------------------------------------------------------------------------------


def serve_messaging(port: int, database_url: str, nats_url: str, jwks_url: str) -> None:
    from chore_common.serving import serve as serve_app
    from chore_messaging.app import create_app
    from chore_messaging.settings import MessagingSettings

    _pin(SERVER_CPU)
    settings = MessagingSettings(
        port=port,
        database_url=database_url,
        nats_url=nats_url,
        jwks_url=jwks_url,
        migrate_on_start=False,
        var_dir=Path(tempfile.gettempdir()),
        shutdown_grace_s=1,
        ws_max_per_user=SOCKETS + WARM,  # two users hold them all
        ws_max_sockets=SOCKETS + 2 * WARM,
    )
    serve_app(create_app, settings)


def serve_gateway(port: int, upstream: str) -> None:
    from chore_common.serving import serve as serve_app
    from chore_gateway.app import create_app
    from chore_gateway.settings import GatewaySettings

    _pin(SERVER_CPU)
    settings = GatewaySettings(
        port=port,
        var_dir=Path(tempfile.gettempdir()),
        upstreams={"messaging": [upstream]},
        rate_limit_rps=1e9,  # on, with a bucket no client here can empty
        rate_limit_burst=1_000_000_000,
        metrics_port=0,
        shutdown_grace_s=1,
        # The replica's /readyz waits behind a storm's handshakes on the shared core: a
        # 1 s check would take the only address out of the pool mid-storm (503s).
        health_timeout_s=10,
        ws_max_sockets=PROXIED + 2 * WARM,
    )
    serve_app(create_app, settings)


def bare_proxy_app(upstream: str) -> Any:
    """A bare aiohttp WebSocket proxy: the client's socket, one to the upstream, two copies."""
    import aiohttp
    from aiohttp import WSMsgType, web

    async def client(app: web.Application):  # type: ignore[no-untyped-def]
        # No connection limit: each upstream WebSocket holds one for its whole life.
        app["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        yield
        await app["session"].close()

    async def copy(src: Any, dst: Any) -> None:
        async for msg in src:
            if msg.type is WSMsgType.TEXT:
                await dst.send_str(msg.data)
            elif msg.type is WSMsgType.BINARY:
                await dst.send_bytes(msg.data)

    async def ws(request: web.Request) -> web.WebSocketResponse:
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        up = await request.app["session"].ws_connect(
            upstream + request.path_qs, protocols=[p for p in offered if p]
        )
        down = web.WebSocketResponse(protocols=(up.protocol,) if up.protocol else ())
        await down.prepare(request)
        tasks = [asyncio.create_task(copy(down, up)), asyncio.create_task(copy(up, down))]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        await up.close()
        await down.close()
        return down

    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get(WS_PATH, ws)
    app.router.add_get("/readyz", ready)
    app.cleanup_ctx.append(client)
    return app


def serve_proxy(port: int, upstream: str) -> None:
    from chore_common.serving import serve as serve_app
    from chore_common.settings import ServiceSettings

    class BareSettings(ServiceSettings):
        service_name = "bench-bare-proxy"

    _pin(SERVER_CPU)
    serve_app(
        lambda _: bare_proxy_app(upstream),
        BareSettings(port=port, var_dir=Path(tempfile.gettempdir())),
    )


class Server:
    """One server process: `python -m bench.sockets10k serve <kind> <port> <args>`."""

    def __init__(self, kind: str, args: list[str], port: int | None = None) -> None:
        self.kind = kind
        self.port = port or free_port()
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.sockets10k", "serve", kind, str(self.port), *args],
            stdout=subprocess.DEVNULL,
            stderr=self.errors,
            env=server_env("MESSAGING_", "GATEWAY_"),
            cwd=Path(__file__).parent.parent,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def endpoint(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "pid": self.proc.pid}

    def wait_ready(self) -> None:
        try:
            _wait_ready(self.port, self.proc)
        except (TimeoutError, RuntimeError):
            self.stop()
            self.errors.seek(0)
            tail = self.errors.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{self.kind} did not start: {tail}") from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.errors.close()


@dataclass
class Base:
    database_url: str
    nats_url: str
    jwks_url: str
    conversation_id: str
    tokens: list[str]


@contextmanager
def base() -> Iterator[Base]:
    """NATS, the token issuer, SQLite migrated, one conversation (opened by its event)."""
    with messaging_base() as (nats, issuer, database_url):
        owner, tasker = issuer.user("client"), issuer.user("tasker")
        with replica(database_url, nats.url, issuer.jwks_url) as service:
            (cid,) = asyncio.run(open_conversations(nats.url, service.url, [(owner, tasker)]))
        tokens = [
            issuer.user(u.role, user_id=u.id).token for _ in range(TOKENS) for u in (owner, tasker)
        ]
        yield Base(database_url, nats.url, issuer.jwks_url, cid, tokens)


@contextmanager
def replica(database_url: str, nats_url: str, jwks_url: str) -> Iterator[Server]:
    server = Server("messaging", [database_url, nats_url, jwks_url])
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@contextmanager
def run_servers(b: Base) -> Iterator[dict[str, Server]]:
    """A fresh replica, bare server, gateway and bare proxy (both before the replica)."""
    made: dict[str, Server] = {}
    try:
        made["service"] = Server("messaging", [b.database_url, b.nats_url, b.jwks_url])
        made["bare"] = Server("bare", [b.nats_url])
        made["service"].wait_ready()
        made["gateway"] = Server("gateway", [made["service"].url])
        made["proxy"] = Server("proxy", [made["service"].url])
        for server in made.values():
            server.wait_ready()
        yield made
    finally:
        for server in made.values():
            if server.proc.poll() is None:
                server.proc.send_signal(signal.SIGTERM)
        for server in made.values():
            server.stop()


# -- the client: one process on the other core ---------------------------------------------


def _offers(tokens: list[str], n: int, start: int = 0) -> list[list[str]]:
    return [["bearer", tokens[(start + i) % len(tokens)]] for i in range(n)]


def _subscribe_all(pool: Any, sockets: list[Any], conversation_id: str) -> None:
    frame = json.dumps({"type": "subscribe", "conversation_id": conversation_id})
    for start in range(0, len(sockets), OPEN_BATCH):
        batch = sockets[start : start + OPEN_BATCH]
        for ws in batch:
            ws.send_text(frame)
        pool.collect(b'"subscribed"', {ws.fd for ws in batch}, 60.0)


def _released(pid: int, below: int, timeout_s: float = 60.0) -> None:
    """Wait until the server has let go of the sockets just closed."""
    deadline = time.monotonic() + timeout_s
    while open_fds(pid) >= below:
        if time.monotonic() > deadline:
            raise RuntimeError(f"pid {pid} still holds {open_fds(pid)} descriptors")
        time.sleep(0.1)


def direct_side(pool: Any, name: str, ep: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """Open WARM, then SOCKETS (subscribed for the service); RSS growth; then the fan-out."""
    host, port, pid = ep["host"], ep["port"], ep["pid"]
    path = WS_PATH if name == "service" else BARE_PATH
    tokens, cid = cfg["tokens"], cfg["conversation_id"]
    warm = pool.open(host, port, path, _offers(tokens, WARM), batch=OPEN_BATCH)
    if name == "service":
        _subscribe_all(pool, warm, cid)
    time.sleep(0.5)
    before = rss_kib(pid)
    started = time.perf_counter()
    sockets = pool.open(host, port, path, _offers(tokens, SOCKETS, WARM), batch=OPEN_BATCH)
    if name == "service":
        _subscribe_all(pool, sockets, cid)
    opened_s = time.perf_counter() - started
    pool.drain(1.0)  # presence frames, then idle
    grown = rss_kib(pid) - before
    fan = fanout_side(Side(name, pool, [pid], cid), sockets, FANOUT_MESSAGES, FANOUT_WARMUP)
    pool.close(warm + sockets)
    _released(pid, 200)
    _log(
        f"direct {name:7}: {SOCKETS:,} sockets in {opened_s:.1f} s, RSS +{grown / 1024:.1f} MiB"
        f" ({grown / SOCKETS:.1f} KiB/socket); fan-out last p50"
        f" {percentile(fan['lasts'], 50) * 1000:.0f} ms,"
        f" {fan['server_cpu_s'] / fan['messages'] * 1000:.0f} ms CPU/message"
    )
    return {
        "kib_per_socket": grown / SOCKETS,
        "open_s": opened_s,
        "rss_mib": (before + grown) / 1024,
        **fan,
    }


def storm_side(pool: Any, name: str, ep: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """WARM sockets, then PROXIED at once through the proxy `ep`: rate and its RSS growth."""
    host, port, pid = ep["host"], ep["port"], ep["pid"]
    tokens, service_pid = cfg["tokens"], cfg["service"]["pid"]
    warm = pool.open(host, port, WS_PATH, _offers(tokens, WARM), batch=OPEN_BATCH)
    time.sleep(0.5)
    before = rss_kib(pid)
    cpu = [cpu_seconds(pid) or 0.0, cpu_seconds(service_pid) or 0.0]
    started = time.perf_counter()
    sockets = pool.open(
        host, port, WS_PATH, _offers(tokens, PROXIED, WARM), batch=IN_FLIGHT, timeout_s=120
    )
    wall = time.perf_counter() - started
    proxy_cpu = (cpu_seconds(pid) or 0.0) - cpu[0]
    service_cpu = (cpu_seconds(service_pid) or 0.0) - cpu[1]
    pool.drain(1.0)
    grown = rss_kib(pid) - before
    pool.close(warm + sockets)
    _released(pid, 200)
    _released(service_pid, 200)
    _log(
        f"storm {name:7}: {PROXIED:,} sockets in {wall:.1f} s ({PROXIED / wall:,.0f}/s; CPU"
        f" proxy {proxy_cpu:.1f} s, replica {service_cpu:.1f} s), proxy RSS"
        f" +{grown / 1024:.1f} MiB ({grown / PROXIED:.1f} KiB/socket)"
    )
    return {
        "per_s": PROXIED / wall,
        "rss_mib": (before + grown) / 1024,
        "kib_per_socket": grown / PROXIED,
        "proxy_cpu_s": proxy_cpu,
        "service_cpu_s": service_cpu,
    }


def client(cfg: dict[str, Any]) -> dict[str, Any]:
    from bench.wsclient import WsPool

    _pin(generator_cpu())
    pool = WsPool()
    flip = cfg["run"] % 2 == 1  # alternate which side goes first
    out: dict[str, Any] = {}
    for name in ("bare", "service") if flip else ("service", "bare"):
        out[name] = direct_side(pool, name, cfg[name], cfg)
    for name in ("proxy", "gateway") if flip else ("gateway", "proxy"):
        out[name] = storm_side(pool, name, cfg[name], cfg)
    pool.close()
    return out


def run_client(cfg: dict[str, Any], timeout_s: float = 170.0) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.sockets10k", "client"],
        input=json.dumps(cfg).encode(),  # tokens on stdin, not on a command line
        stdout=subprocess.PIPE,
        timeout=timeout_s,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"sockets10k client failed, exit {proc.returncode}")
    return dict(json.loads(proc.stdout))


# -- figures -----------------------------------------------------------------------------------


def _load() -> str:
    load1, _, _ = os.getloadavg()
    return f"load average {load1:.1f} on {os.cpu_count()} cores at the end"


def figures(results: list[dict[str, Any]]) -> list[Figure]:
    n = len(results)

    def med(side: str, key: str) -> float:
        return median([r[side][key] for r in results])

    def ratios(a: str, b: str, key: str) -> list[float]:
        return [r[a][key] / r[b][key] for r in results]

    def rate(r: dict[str, Any]) -> float:
        return float(SOCKETS * r["messages"] / r["server_cpu_s"])

    mem = ratios("service", "bare", "kib_per_socket")
    gw = ratios("gateway", "proxy", "kib_per_socket")
    storm = ratios("gateway", "proxy", "per_s")
    fan = [rate(r["service"]) / rate(r["bare"]) for r in results]
    lasts = {s: [t for r in results for t in r[s]["lasts"]] for s in ("service", "bare")}
    load = _load()
    return [
        Figure(
            name="messaging.sockets10k_kib_per_socket",
            value=round(med("service", "kib_per_socket"), 2),
            unit="KiB/socket",
            ceiling=round(med("bare", "kib_per_socket"), 2),
            ratio=round(median(mem), 2),
            target="ratio <= 2",
            note=f"{SOCKETS:,} sockets, authenticated and subscribed; median of {n} runs"
            f" (ratios {min(mem):.2f}..{max(mem):.2f}); opened in"
            f" {med('service', 'open_s'):.1f} s (bare {med('bare', 'open_s'):.1f} s); RSS with"
            f" them {med('service', 'rss_mib'):.0f} MiB (bare {med('bare', 'rss_mib'):.0f} MiB);"
            f" {load}",
        ),
        Figure(
            name="gateway.sockets10k_kib_per_socket",
            value=round(med("gateway", "kib_per_socket"), 2),
            unit="KiB/socket",
            ceiling=round(med("proxy", "kib_per_socket"), 2),
            ratio=round(median(gw), 2),
            target="ratio <= 2",
            note=f"{PROXIED:,} proxied sockets (two sockets each in the proxy); median of {n}"
            f" runs (ratios {min(gw):.2f}..{max(gw):.2f}); RSS with them"
            f" {med('gateway', 'rss_mib'):.0f} MiB (bare proxy {med('proxy', 'rss_mib'):.0f} MiB);"
            f" {load}",
        ),
        Figure(
            name="messaging.fanout10k_ratio",
            value=round(median([rate(r["service"]) for r in results]), 1),
            unit="deliveries/core-s",
            ceiling=round(median([rate(r["bare"]) for r in results]), 1),
            ratio=round(median(fan), 3),
            target=">= 0.50",
            note=f"one message to {SOCKETS:,} sockets; median of {n} runs (ratios"
            f" {min(fan):.2f}..{max(fan):.2f}); the last socket's p50/p99: service"
            f" {percentile(lasts['service'], 50) * 1000:.0f}/"
            f"{percentile(lasts['service'], 99) * 1000:.0f} ms, bare"
            f" {percentile(lasts['bare'], 50) * 1000:.0f}/"
            f"{percentile(lasts['bare'], 99) * 1000:.0f} ms"
            f" ({len(lasts['service'])} messages a side); {load}",
        ),
        Figure(
            name="messaging.connect_storm_per_s",
            value=round(med("gateway", "per_s"), 1),
            unit="sockets/s",
            ceiling=round(med("proxy", "per_s"), 1),
            ratio=round(median(storm), 3),
            target="ratio >= 0.50",
            note=f"{PROXIED:,} sockets at once ({IN_FLIGHT:,} handshakes in flight) through"
            f" the gateway vs a bare proxy, same replica; median of {n} runs (ratios"
            f" {min(storm):.2f}..{max(storm):.2f}); CPU per 1,000 accepted: gateway"
            f" {med('gateway', 'proxy_cpu_s') / PROXIED * 1000:.2f} s, bare proxy"
            f" {med('proxy', 'proxy_cpu_s') / PROXIED * 1000:.2f} s, replica"
            f" {med('gateway', 'service_cpu_s') / PROXIED * 1000:.2f} s; {load}",
        ),
    ]


def run(runs: int) -> list[Figure]:
    results: list[dict[str, Any]] = []
    with base() as b:
        _log("base up: NATS, JWKS, SQLite, one conversation")
        for i in range(runs):
            with run_servers(b) as s:
                cfg = {
                    "run": i,
                    "conversation_id": b.conversation_id,
                    "tokens": b.tokens,
                    **{name: server.endpoint() for name, server in s.items()},
                }
                results.append(run_client(cfg))
            _log(f"run {i + 1}/{runs} done ({_load()})")
    return figures(results)


def profile(target: str = "direct", seconds: float = 10.0) -> str:
    """py-spy the replica (direct) or the gateway (gateway) during one client run."""
    import threading

    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    with base() as b, run_servers(b) as s, tempfile.TemporaryDirectory() as tmp:
        cfg = {"run": 0, "conversation_id": b.conversation_id, "tokens": b.tokens}
        cfg.update({name: server.endpoint() for name, server in s.items()})
        pid = s["service" if target == "direct" else "gateway"].proc.pid
        out = Path(tmp) / "flame.txt"
        record = [spy, "record", "-d", str(int(seconds)), "-r", "200", "-f", "raw", "-o", str(out)]
        client_thread = threading.Thread(target=run_client, args=(cfg,))
        client_thread.start()
        if target == "gateway":
            time.sleep(25.0)  # the direct sides first
        subprocess.run([*record, "-p", str(pid)], check=False, capture_output=True)
        client_thread.join()
        return _top(out.read_text())


def _top(raw: str, top: int = 40) -> str:
    import re
    from collections import Counter

    own: Counter[str] = Counter()
    within: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        frames_text, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = [re.sub(r":\d+\)", ")", f) for f in frames_text.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            within[frame] += n
    report = [f"{total} samples", "self time:"]
    report += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    report += ["inclusive time:"]
    report += [f"  {n / total:6.1%}  {f}" for f, n in within.most_common(top)]
    return "\n".join(report)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sockets10k")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("kind", choices=("messaging", "bare", "gateway", "proxy"))
    serve.add_argument("port", type=int)
    serve.add_argument("args", nargs="*")
    sub.add_parser("client")
    sub.add_parser("run").add_argument("--runs", type=int, default=1)
    prof = sub.add_parser("profile")
    prof.add_argument("target", nargs="?", choices=("direct", "gateway"), default="direct")
    args = parser.parse_args(argv)
    if args.command == "serve":
        if args.kind == "messaging":
            serve_messaging(args.port, *args.args)
        elif args.kind == "bare":
            serve_bare("broadcast", args.port, *args.args)
        elif args.kind == "gateway":
            serve_gateway(args.port, *args.args)
        else:
            serve_proxy(args.port, *args.args)
    elif args.command == "client":
        print(json.dumps(client(json.loads(sys.stdin.read()))))
    elif args.command == "profile":
        print(profile(args.target))
    else:
        for figure in run(args.runs):
            print(json.dumps(figure.as_json()))


if __name__ == "__main__":
    main()
