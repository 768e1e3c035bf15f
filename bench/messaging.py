"""Messaging's figures, each next to a bare aiohttp WebSocket ceiling measured in the same run.

- `messaging.fanout1000_ratio`: one message sent into a conversation with 1,000 open sockets
  on one replica (500 sockets of each participant: phones, tabs), each message fanned out to
  all of them; the next is sent once the last socket has it. Deliveries per second of server
  CPU vs a bare aiohttp app that sends the frame it receives, the same text, to its 1,000
  sockets. `messaging.fanout1000_last_p50_ms`: send -> the last of the 1,000 sockets has it
  (wall clock), p50 (p99 and per-socket percentiles in the note).
- `messaging.cross_replica_p50_ms`: sent on replica A's WebSocket, received on replica B's,
  one message at a time; the ceiling is two bare aiohttp WebSocket processes bridged by a
  core-NATS subject (what any cross-process relay pays).
- `messaging.inbox_p50_ms`: the first inbox page of a user with 200 conversations, on
  PostgreSQL (`bench/messaging_inbox.py`, its descriptions merged below).

The service runs as deployed (the services' runner, real NATS, SQLite in a temp dir, tokens
signed like auth's and verified through JWKS, default limits); conversations are opened by
publishing `tasks.offer.created` on the TASKS stream for the service's own consumer. Servers
run in processes pinned to core 0; every client socket lives in one epoll loop
(`bench.wsclient`) in a process pinned to the last core, which reports its own CPU so a figure
can say the receivers were not what limited it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common_stack import cpu_seconds, wait_seconds
from bench.figures import Description, Figure, median
from bench.loadgen import generator_cpu, percentile
from bench.machine import server_env
from chore_common.testing.nats import free_port

if TYPE_CHECKING:
    from bench.wsclient import WsPool, WsSocket

SERVER_CPU = 0
SOCKETS = 1000
FANOUT_MESSAGES = 30  # per side per run, after FANOUT_WARMUP
FANOUT_WARMUP = 3
CROSS_MESSAGES = 300
CROSS_WARMUP = 20
CROSS_SENDERS = 40  # sends rotate over sockets: each stays under the per-socket rate limit
WS_PATH = "/messaging/ws"
BARE_PATH = "/ws"
RELAY_SUBJECT = "bench.relay"

DESCRIPTIONS = {
    "messaging.fanout1000_ratio": Description(
        measures=f"Deliveries per second of server CPU: one message sent into a conversation"
        f" with {SOCKETS:,} open sockets on one replica (half of them each participant's),"
        " fanned out to all of them; the next is sent once the last socket has it. The"
        " service runs as deployed (its runner, real NATS, SQLite, tokens verified through"
        " JWKS, default limits).",
        ceiling=f"a bare aiohttp app that sends the frame it receives, the same text, to its"
        f" {SOCKETS:,} sockets",
        limits="The writes to the sockets. The message is stored first (one transaction),"
        " then its WebSocket frame is built once and the same bytes are written straight to"
        " each socket's transport while it keeps up, with no task wake-up per socket; a"
        " socket that falls behind goes through its bounded queue. The receivers are one"
        " epoll client on the other core, which reports its own CPU.",
    ),
    "messaging.fanout1000_last_p50_ms": Description(
        measures=f"Send -> the last of those {SOCKETS:,} sockets has the message, wall clock,"
        " p50 (p99 and per-socket percentiles in the note); no target, the rate is the"
        " figure judged.",
        ceiling="the bare broadcast's same latency",
        limits="The store before the fan-out, then the writes to every socket.",
    ),
    "messaging.cross_replica_p50_ms": Description(
        measures="A message sent on replica A's WebSocket -> the frame on replica B's"
        " socket, one at a time, p50 (p99 in the note).",
        ceiling="two bare aiohttp WebSocket processes bridged by one core-NATS subject (what"
        " any cross-process relay pays)",
        limits="The storing transaction on A (the seq is allocated in it), then core NATS to"
        " B and B's release in seq order to its sockets.",
    ),
}


def _inbox_descriptions() -> dict[str, Description]:
    from bench.messaging_inbox import DESCRIPTIONS as INBOX

    return dict(INBOX)


DESCRIPTIONS.update(_inbox_descriptions())


def _log(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


def _pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})


# -- tokens: chore_common.testing.issuer, its JWKS over HTTP ----------------------------------


@contextmanager
def jwks_issuer() -> Iterator[Any]:
    from chore_common.testing.issuer import JWKS_PATH, Issuer

    document = b""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer = Issuer(f"http://127.0.0.1:{httpd.server_address[1]}{JWKS_PATH}")
    document = json.dumps(issuer.jwks()).encode()
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield issuer
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def messaging_base() -> Iterator[tuple[Any, Any, str]]:
    """What every messaging bench starts from, in a temporary directory: NATS, the token
    issuer, and messaging's SQLite database, migrated. Yields (nats, issuer, database_url)."""
    from chore_common.testing.nats import NatsServer
    from chore_messaging.app import migrate
    from chore_messaging.settings import MessagingSettings

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        nats = NatsServer(Path(tmp) / "nats").start()
        stack.callback(nats.stop)
        issuer = stack.enter_context(jwks_issuer())
        database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'messaging.sqlite'}"
        migrate(MessagingSettings(database_url=database_url, var_dir=Path(tmp)))
        yield nats, issuer, database_url


# -- servers: the service, a bare broadcast, a bare NATS relay; each pinned to core 0 --------


def serve_messaging(port: int, database_url: str, nats_url: str, jwks_url: str) -> None:
    """Child process: one messaging replica via the services' own runner, default limits but
    the per-user socket cap: the fan-out's 1,000 sockets belong to two users."""
    from chore_common.serving import serve as serve_app
    from chore_messaging.app import create_app
    from chore_messaging.settings import MessagingSettings

    _pin(SERVER_CPU)
    settings = MessagingSettings(
        port=port,
        database_url=database_url,
        nats_url=nats_url,
        jwks_url=jwks_url,
        migrate_on_start=False,  # migrated once by the bench: two replicas share the file
        var_dir=Path(tempfile.gettempdir()),
        shutdown_grace_s=1,
        ws_max_per_user=SOCKETS,
    )
    serve_app(create_app, settings)


def serve_bare(kind: str, port: int, nats_url: str) -> None:
    """Child process: a bare aiohttp WebSocket app, no kit, no checks.

    broadcast: every text frame a socket sends goes, the same text, to every socket.
    relay: a text frame is published on one core-NATS subject; what the subject carries goes
    to this process's sockets opened with `?listen=1`.
    """
    import nats
    from aiohttp import WSMsgType, web

    from chore_common.serving import serve as serve_app
    from chore_common.settings import ServiceSettings

    class BareSettings(ServiceSettings):
        service_name = "bench-bare"

    sockets: set[web.WebSocketResponse] = set()
    links: dict[str, Any] = {}

    async def fan_out(text: str) -> None:
        for peer in list(sockets):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await peer.send_str(text)

    async def on_nats(msg: Any) -> None:
        await fan_out(msg.data.decode())

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("bearer",))
        await ws.prepare(request)
        if kind == "broadcast" or request.query.get("listen"):
            sockets.add(ws)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    if kind == "broadcast":
                        await fan_out(msg.data)
                    else:
                        await links["nc"].publish(RELAY_SUBJECT, msg.data.encode())
        finally:
            sockets.discard(ws)
        return ws

    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def nats_link(app: web.Application) -> Any:
        if kind == "relay":
            links["nc"] = await nats.connect(nats_url)
            await links["nc"].subscribe(RELAY_SUBJECT, cb=on_nats)
        yield
        if kind == "relay":
            await links["nc"].close()

    def make_app(settings: BareSettings) -> web.Application:
        app = web.Application()
        app.router.add_get(BARE_PATH, ws_handler)
        app.router.add_get("/readyz", ready)
        app.cleanup_ctx.append(nats_link)
        return app

    _pin(SERVER_CPU)
    serve_app(make_app, BareSettings(port=port, var_dir=Path(tempfile.gettempdir())))


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited during start")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/readyz")
            ok = conn.getresponse().status == 200
            conn.close()
            if ok:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError("server did not become ready")


class Proc:
    def __init__(self, name: str, args: list[str]) -> None:
        self.name = name
        self.port = free_port()
        env = server_env("MESSAGING_")
        # A file, not a pipe: a pipe nobody drains would stall the server. Closed in stop().
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.messaging", *args[:1], str(self.port), *args[1:]],
            stdout=subprocess.DEVNULL,  # the JSON logs are still formatted and written
            stderr=self.errors,
            env=env,
            cwd=Path(__file__).parent.parent,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def endpoint(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "pid": self.pid}

    def wait_ready(self) -> None:
        try:
            _wait_ready(self.port, self.proc)
        except (TimeoutError, RuntimeError):
            self.stop()
            self.errors.seek(0)
            tail = self.errors.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} did not start: {tail}") from None

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.errors.close()


@contextmanager
def servers(*specs: tuple[str, list[str]]) -> Iterator[list[Proc]]:
    """Start every server at once (they start in parallel), wait for all, stop all."""
    started: list[Proc] = []
    try:
        for name, args in specs:
            started.append(Proc(name, args))
        for proc in started:
            proc.wait_ready()
        yield started
    finally:
        for proc in started:
            proc.terminate()  # all at once: each has its own shutdown grace to sit out
        for proc in reversed(started):
            proc.stop()


# -- conversations, opened the way production opens them --------------------------------------


async def open_conversations(
    nats_url: str, base_url: str, pairs: list[tuple[Any, Any]]
) -> list[str]:
    """Publish `tasks.offer.created` for each (owner, tasker) on the TASKS stream; wait until
    the service's consumer has opened each conversation (seen by its owner over REST)."""
    import aiohttp
    import nats

    from chore_common.contracts.envelope import Envelope
    from chore_common.contracts.tasks import OfferCreatedV1
    from chore_messaging.domain.model import conversation_id

    ids: list[str] = []
    nc = await nats.connect(nats_url)
    try:
        for owner, tasker in pairs:
            task_id = uuid.uuid4()
            event = OfferCreatedV1(
                offer_id=uuid.uuid4(),
                task_id=task_id,
                owner_id=owner.id,
                tasker_id=tasker.id,
                title="Bench: fix the sink",
                price_cents=5000,
                created_at=datetime.now(UTC),
            )
            envelope = Envelope.of(event, "tasks")
            await nc.jetstream().publish(envelope.subject, envelope.to_bytes())
            ids.append(str(conversation_id(task_id, tasker.id)))
    finally:
        await nc.close()
    async with aiohttp.ClientSession() as http:
        for (owner, _), cid in zip(pairs, ids, strict=True):
            for _ in range(300):
                async with http.get(
                    f"{base_url}/messaging/conversations", headers=owner.headers
                ) as resp:
                    body = await resp.json()
                if any(c.get("id") == cid for c in body.get("items", [])):
                    break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"conversation {cid} never opened: {body}")
    return ids


# -- the client side: one process on the last core, every socket in one epoll loop ------------


def _process_wait_s() -> float:
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    return 0.0


class Window:
    """CPU of the servers and of this client over one measured stretch."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.wall = time.perf_counter()
        self.client_cpu = time.process_time()
        self.client_wait = _process_wait_s()
        self.server_cpu = [cpu_seconds(p) or 0.0 for p in pids]
        self.server_wait = [wait_seconds(p) or 0.0 for p in pids]

    def close(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall
        server_cpu = sum(cpu_seconds(p) or 0.0 for p in self.pids) - sum(self.server_cpu)
        server_wait = sum(wait_seconds(p) or 0.0 for p in self.pids) - sum(self.server_wait)
        return {
            "wall_s": wall,
            "server_cpu_s": server_cpu,
            "server_wait": server_wait / wall if wall > 0 else 0.0,
            "client_cpu_s": time.process_time() - self.client_cpu,
            "client_wait": (_process_wait_s() - self.client_wait) / wall if wall > 0 else 0.0,
        }


def _filler(marker: str) -> str:
    # A chat message of ordinary length: the marker is what the receivers look for.
    return f"{marker} is the bench's message; the sink is fixed, see you at six"


def _send_frame(conversation_id: str, marker: str) -> str:
    return json.dumps(
        {
            "type": "send",
            "conversation_id": conversation_id,
            "body": _filler(marker),
            "client_msg_id": uuid.uuid4().hex,  # must not contain the marker: acks echo it
        }
    )


def _bare_frame(conversation_id: str, marker: str, seq: int) -> str:
    # The bare servers pass on what they get: the same shape and size as the service's frame.
    return json.dumps(
        {
            "type": "message",
            "conversation_id": conversation_id,
            "seq": seq,
            "id": str(uuid.uuid4()),
            "sender_id": str(uuid.uuid4()),
            "body": _filler(marker),
            "sent_at": datetime.now(UTC).isoformat(),
        },
        separators=(",", ":"),
    )


def _subscribe(pool: WsPool, sockets: list[WsSocket], conversation_id: str) -> None:
    frame = json.dumps({"type": "subscribe", "conversation_id": conversation_id})
    for start in range(0, len(sockets), 100):
        batch = sockets[start : start + 100]
        for ws in batch:
            ws.send_text(frame)
        pool.collect(b'"subscribed"', {ws.fd for ws in batch}, 30.0)


class Side:
    def __init__(self, name: str, pool: WsPool, pids: list[int], conversation_id: str) -> None:
        self.name = name
        self.pool = pool
        self.pids = pids
        self.conversation_id = conversation_id
        self.sent = 0

    def frame(self, marker: str) -> str:
        self.sent += 1
        if self.name == "service":
            return _send_frame(self.conversation_id, marker)
        return _bare_frame(self.conversation_id, marker, self.sent)


def fanout_side(
    side: Side, sockets: list[WsSocket], messages: int, warmup: int, until: float = float("inf")
) -> dict[str, Any]:
    """Closed loop: send one message (from each socket in turn: phones and tabs take turns,
    and no socket nears its rate limit), wait until all sockets have it, send the next."""
    fds = {ws.fd for ws in sockets}
    lasts: list[float] = []
    each: list[float] = []
    window = None
    for k in range(warmup + messages):
        if k == warmup:
            window = Window(side.pids)
        elif time.perf_counter() > until:
            break
        marker = f"m{uuid.uuid4().hex[:12]}"
        sender = sockets[side.sent % len(sockets)]
        text = side.frame(marker)
        started = time.perf_counter()
        sender.send_text(text)
        got = side.pool.collect(marker.encode(), fds, 20.0)
        if k >= warmup:
            times = [t - started for t in got.values()]
            lasts.append(max(times))
            each += times
    assert window is not None
    used = window.close()
    return {
        **used,
        "messages": len(lasts),
        "lasts": lasts,
        "each_p50": percentile(each, 50),
        "each_p99": percentile(each, 99),
    }


def cross_side(
    side: Side,
    senders: list[WsSocket],
    receiver: WsSocket,
    messages: int,
    warmup: int,
    until: float = float("inf"),
) -> dict[str, Any]:
    """One message at a time: sent on a socket of replica A, timed to the socket on B."""
    latencies: list[float] = []
    window = None
    for k in range(warmup + messages):
        if k == warmup:
            window = Window(side.pids)
        elif time.perf_counter() > until:
            break
        marker = f"x{uuid.uuid4().hex[:12]}"
        sender = senders[side.sent % len(senders)]
        text = side.frame(marker)
        started = time.perf_counter()
        sender.send_text(text)
        got = side.pool.collect(marker.encode(), {receiver.fd}, 10.0)
        if k >= warmup:
            latencies.append(got[receiver.fd] - started)
    assert window is not None
    side.pool.drain(0.05)  # the senders' acks
    return {**window.close(), "messages": len(latencies), "latencies": latencies}


def client(config: dict[str, Any]) -> dict[str, Any]:
    from bench.wsclient import WsPool

    _pin(generator_cpu())
    pool = WsPool()
    runs: int = config["runs"]
    only = config.get("only")
    names = [only] if only else ["bare", "service"]
    until = time.perf_counter() + config.get("seconds", 1e9)
    out: dict[str, Any] = {name: [] for name in names}
    started = time.perf_counter()
    cid = config["conversation_id"]
    if config["phase"] == "fanout":
        offers = [["bearer", token] for token in config["tokens"]]
        ends = {"service": (config["service"], WS_PATH), "bare": (config["bare"], BARE_PATH)}
        sockets = {
            name: pool.open(ends[name][0]["host"], ends[name][0]["port"], ends[name][1], offers)
            for name in names
        }
        if "service" in sockets:
            _subscribe(pool, sockets["service"], cid)
        _log(
            f"fan-out: {len(names) * len(offers)} sockets open and subscribed"
            f" in {time.perf_counter() - started:.1f} s"
        )
        sides = {name: Side(name, pool, [ends[name][0]["pid"]], cid) for name in names}
        for i in range(runs):
            for name in names if i % 2 == 0 else names[::-1]:
                result = fanout_side(
                    sides[name], sockets[name], config["messages"], config["warmup"], until
                )
                out[name].append(result)
                _log(
                    f"run {i + 1}/{runs} fan-out {name:7}: last socket p50"
                    f" {percentile(result['lasts'], 50) * 1000:6.1f} ms, each p50"
                    f" {result['each_p50'] * 1000:5.1f} ms; server CPU"
                    f" {result['server_cpu_s'] / result['messages'] * 1000:5.1f} ms/message,"
                    f" client CPU {result['client_cpu_s'] / result['messages'] * 1000:4.1f}"
                    f" ms/message"
                )
    else:
        senders = [["bearer", token] for token in config["sender_tokens"]]
        listener = [["bearer", config["receiver_token"]]]
        pairs = {
            "service": (config["service_a"], config["service_b"], WS_PATH, WS_PATH),
            "bare": (config["bare_a"], config["bare_b"], BARE_PATH, BARE_PATH + "?listen=1"),
        }
        cross: dict[str, tuple[list[WsSocket], WsSocket, list[int]]] = {}
        for name in names:
            a, b, send_path, listen_path = pairs[name]
            tx = pool.open(a["host"], a["port"], send_path, senders)
            rx = pool.open(b["host"], b["port"], listen_path, listener)[0]
            if name == "service":
                _subscribe(pool, [rx], cid)
            cross[name] = (tx, rx, [a["pid"], b["pid"]])
        sides = {name: Side(name, pool, cross[name][2], cid) for name in names}
        for i in range(runs):
            for name in names if i % 2 == 0 else names[::-1]:
                tx, rx, _ = cross[name]
                result = cross_side(
                    sides[name], tx, rx, config["messages"], config["warmup"], until
                )
                out[name].append(result)
                _log(
                    f"run {i + 1}/{runs} cross-replica {name:7}: p50"
                    f" {percentile(result['latencies'], 50) * 1000:5.2f} ms, p99"
                    f" {percentile(result['latencies'], 99) * 1000:5.2f} ms; server CPU"
                    f" {result['server_cpu_s'] / result['messages'] * 1000:4.2f} ms/message"
                    f" (both processes)"
                )
    pool.close()
    return out


def run_client(config: dict[str, Any], timeout_s: float = 150.0) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.messaging", "client"],
        input=json.dumps(config).encode(),  # tokens on stdin, not on a command line
        stdout=subprocess.PIPE,
        stderr=None,  # progress lines go straight to ours
        timeout=timeout_s,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench client ({config['phase']}) failed, exit {proc.returncode}")
    return dict(json.loads(proc.stdout))


# -- figures -----------------------------------------------------------------------------------


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _fanout_figures(result: dict[str, Any], runs: int) -> list[Figure]:
    svc, bare = result["service"], result["bare"]

    def rate(r: dict[str, Any]) -> float:  # deliveries per second of server CPU
        return float(SOCKETS * r["messages"] / r["server_cpu_s"])

    ratios = [rate(s) / rate(b) for s, b in zip(svc, bare, strict=True)]
    svc_lasts = [t for r in svc for t in r["lasts"]]
    bare_lasts = [t for r in bare for t in r["lasts"]]
    client_ms = median([r["client_cpu_s"] / r["messages"] * 1000 for r in svc + bare])
    client_busy = max(r["client_cpu_s"] / r["wall_s"] for r in svc + bare)
    client_wait = median([r["client_wait"] for r in svc + bare])
    svc_cpu_ms = median([r["server_cpu_s"] / r["messages"] * 1000 for r in svc])
    bare_cpu_ms = median([r["server_cpu_s"] / r["messages"] * 1000 for r in bare])
    wall_svc = SOCKETS / percentile(svc_lasts, 50)
    wall_bare = SOCKETS / percentile(bare_lasts, 50)
    note = (
        f"1,000 sockets (500 per participant) on one replica; median of {runs} back-to-back"
        f" pairs (ratios {min(ratios):.2f}..{max(ratios):.2f}); server CPU per message:"
        f" service {svc_cpu_ms:.1f} ms, bare {bare_cpu_ms:.1f} ms; wall clock"
        f" 1,000/p50(last socket): service {wall_svc:,.0f}/s, bare {wall_bare:,.0f}/s"
        f" (ratio {wall_svc / wall_bare:.2f}); receivers: one epoll client on core"
        f" {generator_cpu()}, {client_ms:.1f} ms CPU per 1,000 frames, at most"
        f" {client_busy:.0%} busy, waited {client_wait:.0%} for its core"
    )
    waits = [r["server_wait"] for r in svc + bare]
    if median(waits) > 0.05:
        note += (
            f"; OTHER WORK SHARED THE SERVER'S CORE (it waited {median(waits):.0%} of the"
            " time at the median): wall-clock latencies are less reliable"
        )
    return [
        Figure(
            name="messaging.fanout1000_ratio",
            value=round(median([rate(r) for r in svc]), 1),
            unit="deliveries/core-s",
            ceiling=round(median([rate(r) for r in bare]), 1),
            ratio=round(median(ratios), 3),
            target=">= 0.50",
            note=note,
        ),
        Figure(
            name="messaging.fanout1000_last_p50_ms",
            value=_ms(percentile(svc_lasts, 50)),
            unit="ms",
            ceiling=_ms(percentile(bare_lasts, 50)),
            ratio=round(percentile(svc_lasts, 50) / percentile(bare_lasts, 50), 2),
            note=(
                f"send -> the last of 1,000 sockets has it; p99 service"
                f" {_ms(percentile(svc_lasts, 99))} ms, bare {_ms(percentile(bare_lasts, 99))}"
                f" ms; per socket p50/p99: service"
                f" {_ms(median([r['each_p50'] for r in svc]))}/"
                f"{_ms(median([r['each_p99'] for r in svc]))} ms, bare"
                f" {_ms(median([r['each_p50'] for r in bare]))}/"
                f"{_ms(median([r['each_p99'] for r in bare]))} ms"
                f" ({len(svc_lasts)} messages a side)"
            ),
        ),
    ]


def _cross_figures(result: dict[str, Any], runs: int) -> list[Figure]:
    svc = [t for r in result["service"] for t in r["latencies"]]
    bare = [t for r in result["bare"] for t in r["latencies"]]
    per_run = [
        percentile(s["latencies"], 50) / percentile(b["latencies"], 50)
        for s, b in zip(result["service"], result["bare"], strict=True)
    ]
    return [
        Figure(
            name="messaging.cross_replica_p50_ms",
            value=_ms(percentile(svc, 50)),
            unit="ms",
            ceiling=_ms(percentile(bare, 50)),
            ratio=round(percentile(svc, 50) / percentile(bare, 50), 2),
            target="value <= 10",
            note=(
                f"WebSocket send on replica A -> frame on replica B's socket, one at a time,"
                f" {len(svc)} messages a side over {runs} runs; p99 service"
                f" {_ms(percentile(svc, 99))} ms, bare {_ms(percentile(bare, 99))} ms;"
                f" ceiling: two bare aiohttp processes bridged by a core-NATS subject"
                f" (per-run p50 ratios {min(per_run):.1f}..{max(per_run):.1f})"
            ),
        )
    ]


@dataclass
class Stack:
    a: Proc
    b: Proc
    broadcast: Proc
    relay_a: Proc
    relay_b: Proc
    fan_id: str
    cross_id: str
    tokens: list[str]  # SOCKETS tokens, each its own session, half of each participant
    sender_tokens: list[str]  # the cross conversation's tasker, one session per socket
    receiver_token: str  # the cross conversation's owner


@contextmanager
def stack() -> Iterator[Stack]:
    """NATS, the token issuer, SQLite, two replicas and three bare servers; two conversations."""
    with messaging_base() as (nats, issuer, database_url), ExitStack() as stack:
        service = ["serve", database_url, nats.url, issuer.jwks_url]
        a, b, broadcast, relay_a, relay_b = stack.enter_context(
            servers(
                ("messaging replica A", service),
                ("messaging replica B", service),
                ("bare broadcast", ["bare", "broadcast", nats.url]),
                ("bare relay A", ["bare", "relay", nats.url]),
                ("bare relay B", ["bare", "relay", nats.url]),
            )
        )
        owner, tasker = issuer.user("client"), issuer.user("tasker")
        owner2, tasker2 = issuer.user("client"), issuer.user("tasker")
        fan_id, cross_id = asyncio.run(
            open_conversations(
                nats.url, f"http://127.0.0.1:{a.port}", [(owner, tasker), (owner2, tasker2)]
            )
        )
        _log("servers up, conversations opened by tasks.offer.created")
        yield Stack(
            a,
            b,
            broadcast,
            relay_a,
            relay_b,
            fan_id,
            cross_id,
            tokens=[
                issuer.user(u.role, user_id=u.id).token
                for u in (owner, tasker)
                for _ in range(SOCKETS // 2)
            ],
            sender_tokens=[
                issuer.user("tasker", user_id=tasker2.id).token for _ in range(CROSS_SENDERS)
            ],
            receiver_token=owner2.token,
        )


def _fanout_config(s: Stack, runs: int, messages: int, only: str | None = None) -> dict[str, Any]:
    return {
        "phase": "fanout",
        "runs": runs,
        "messages": messages,
        "warmup": FANOUT_WARMUP,
        "only": only,
        "service": s.a.endpoint(),
        "bare": s.broadcast.endpoint(),
        "conversation_id": s.fan_id,
        "tokens": s.tokens,
    }


def _cross_config(s: Stack, runs: int, messages: int, only: str | None = None) -> dict[str, Any]:
    return {
        "phase": "cross",
        "runs": runs,
        "messages": messages,
        "warmup": CROSS_WARMUP,
        "only": only,
        "service_a": s.a.endpoint(),
        "service_b": s.b.endpoint(),
        "bare_a": s.relay_a.endpoint(),
        "bare_b": s.relay_b.endpoint(),
        "conversation_id": s.cross_id,
        "sender_tokens": s.sender_tokens,
        "receiver_token": s.receiver_token,
    }


def run(runs: int) -> list[Figure]:
    from bench import messaging_inbox

    with stack() as s:
        fanout = run_client(_fanout_config(s, runs, FANOUT_MESSAGES))
        cross = run_client(_cross_config(s, runs, CROSS_MESSAGES))
    figures = _fanout_figures(fanout, runs) + _cross_figures(cross, runs)
    return figures + messaging_inbox.run(runs)


def profile(phase: str = "fanout", seconds: float = 8.0, top: int = 40) -> str:
    """Where replica A's time goes (B's too for `cross`) while the service side of a figure
    runs: py-spy samples, self time and inclusive time of messaging and the libraries it calls.
    """
    import re
    import shutil
    from collections import Counter

    with stack() as s, tempfile.TemporaryDirectory() as tmp:
        if phase == "fanout":
            config = _fanout_config(s, 1, 2000, only="service")
        else:
            config = _cross_config(s, 1, 20000, only="service")
        config["seconds"] = seconds + 4
        client_thread = threading.Thread(target=run_client, args=(config,))
        client_thread.start()
        time.sleep(4.0)  # sockets open and subscribed
        spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
        pids = [s.a.pid] + ([s.b.pid] if phase == "cross" else [])
        outs = [Path(tmp) / f"samples-{pid}.txt" for pid in pids]
        record = [spy, "record", "-d", str(int(seconds)), "-r", "500", "-f", "raw"]
        spies = [
            subprocess.Popen(
                [*record, "-p", str(pid), "-o", str(out)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for pid, out in zip(pids, outs, strict=True)
        ]
        for spy_proc in spies:
            spy_proc.wait()
        client_thread.join()
        report: list[str] = []
        for pid, out in zip(pids, outs, strict=True):
            own: Counter[str] = Counter()
            within: Counter[str] = Counter()
            total = 0
            for line in out.read_text().splitlines():
                frames_text, _, count = line.rpartition(" ")
                n = int(count)
                total += n
                frames = [re.sub(r":\d+\)", ")", f) for f in frames_text.split(";")]
                own[frames[-1]] += n
                for frame in set(frames):
                    within[frame] += n
            name = "replica A" if pid == s.a.pid else "replica B"
            report += [f"{total} samples of {name} ({phase})", "self time:"]
            report += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
            report.append("inclusive time:")
            report += [f"  {n / total:6.1%}  {f}" for f, n in within.most_common(top)]
    return "\n".join(report)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.messaging")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve")
    serve_cmd.add_argument("port", type=int)
    serve_cmd.add_argument("database_url")
    serve_cmd.add_argument("nats_url")
    serve_cmd.add_argument("jwks_url")
    bare_cmd = sub.add_parser("bare")
    bare_cmd.add_argument("port", type=int)
    bare_cmd.add_argument("kind", choices=("broadcast", "relay"))
    bare_cmd.add_argument("nats_url")
    sub.add_parser("client")
    sub.add_parser("run").add_argument("--runs", type=int, default=3)
    prof = sub.add_parser("profile", help="py-spy the service side of a figure")
    prof.add_argument("phase", nargs="?", choices=("fanout", "cross"), default="fanout")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve_messaging(args.port, args.database_url, args.nats_url, args.jwks_url)
    elif args.command == "bare":
        serve_bare(args.kind, args.port, args.nats_url)
    elif args.command == "client":
        print(json.dumps(client(json.loads(sys.stdin.read()))))
    elif args.command == "profile":
        print(profile(args.phase))
    else:
        for figure in run(args.runs):
            print(json.dumps(figure.as_json()))


if __name__ == "__main__":
    main()
