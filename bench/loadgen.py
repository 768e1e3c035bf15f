"""A load generator that is not the bottleneck.

A bare aiohttp handler serves ~25k requests/s on one core here; an aiohttp *client* in
Python tops out well below that, so it would measure itself. This one is a plain epoll loop
over many non-blocking keep-alive HTTP/1.1 connections: each request's bytes are built once,
each response is parsed only as far as its status and Content-Length. It runs in its own
process, pinned to its own core, so the server under test keeps the other core to itself.
Headroom is measured by `python -m bench.loadgen selftest` (see bench/README.md), and every
result carries `client_cpu`: the generator's share of its core while it ran. A generator
that is not saturated (well under 1.0) is not what limited the figure.

Only Content-Length framed responses are understood (aiohttp's json_response and the
services' handlers use it); a chunked or unframed response counts as an error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

# Connections whose peer vanished are reopened; past this many, the run is considered broken.
_MAX_RECONNECTS = 10_000


@dataclass(frozen=True)
class LoadResult:
    requests: int  # responses completed inside the measured window
    errors: int  # non-2xx/3xx responses, unframed responses, connection failures
    elapsed_s: float
    client_cpu: float  # generator CPU time / wall time (1.0 = its core was saturated)
    latencies_s: list[float] = field(default_factory=list)  # only for measure_latency
    # Share of the window the generator was ready to run but waited for a CPU: other work
    # on its core. None where unknown (wrk, or no /proc/self/schedstat).
    client_wait: float | None = None
    generator: str = "python"

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0


def build_request(
    url: str, method: str = "GET", body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[str, int, bytes]:
    """(host, port, request bytes) for `url`; only plain http to loopback is allowed."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if parts.scheme != "http" or host not in {"127.0.0.1", "localhost", "::1"}:
        raise ValueError(f"the load generator only targets http://127.0.0.1, not {url}")
    port = parts.port or 80
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}"]
    given = {k.lower() for k in (headers or {})}
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
        if "content-type" not in given:
            lines.append("Content-Type: application/json")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return host, port, head + body


def _response_end(buf: bytes) -> tuple[int, int] | None:
    """(end offset, status) of the first complete response in buf; None if incomplete.

    Raises ValueError for a response this client cannot frame.
    """
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    status = int(buf[9:12])
    # Most servers (aiohttp included) spell it this way; lower-casing every head costs ~5 %.
    head = buf[:head_end]
    at = head.find(b"\r\nContent-Length:")
    if at < 0:
        head = head.lower()
        at = head.find(b"\r\ncontent-length:")
    if at < 0:
        if status in (204, 304) or 100 <= status < 200:
            return head_end + 4, status
        raise ValueError("response without Content-Length")
    line_end = head.find(b"\r\n", at + 2)
    length = int(head[at + 17 : line_end if line_end >= 0 else len(head)])
    end = head_end + 4 + length
    return (end, status) if len(buf) >= end else None


class _Conn:
    __slots__ = ("buf", "sent_at", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.sent_at = 0.0


def _connect(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


def run_load(
    url: str,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    connections: int = 64,
    duration_s: float = 3.0,
    warmup_s: float = 0.5,
    requests: int | None = None,
    record_latency: bool = False,
) -> LoadResult:
    """Drive the load from *this* process (measure_rps/measure_latency use a separate one).

    With `requests`, sends exactly that many and measures them all; otherwise runs for
    warmup_s + duration_s and counts only responses completed after the warm-up.
    """
    host, port, payload = build_request(url, method, body, headers)
    perf = time.perf_counter
    epoll = select.epoll()
    conns: dict[int, _Conn] = {}
    budget = requests if requests is not None else -1  # requests still to send; -1: unbounded
    connections = min(connections, requests) if requests is not None else connections

    def send(conn: _Conn) -> None:
        nonlocal budget
        budget -= budget > 0
        conn.sent_at = perf()
        conn.sock.send(payload)

    def open_one() -> None:
        conn = _Conn(_connect(host, port))
        conns[conn.sock.fileno()] = conn
        epoll.register(conn.sock.fileno(), select.EPOLLIN)
        send(conn)

    def close(fd: int) -> None:
        epoll.unregister(fd)
        conns.pop(fd).sock.close()

    timed = requests is None
    start = perf()
    measuring = not timed
    window_start = start
    stop_at = start + warmup_s + duration_s if timed else float("inf")
    done = errors = reconnects = 0
    latencies: list[float] = []
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    wait0 = _runqueue_wait_s()
    for _ in range(connections):
        open_one()
    try:
        while conns:
            now = perf()
            if not measuring and now >= start + warmup_s:
                measuring, window_start, done, errors = True, now, 0, 0
                cpu0 = resource.getrusage(resource.RUSAGE_SELF)
                wait0 = _runqueue_wait_s()
            if now > stop_at + 5:
                break  # a server that stopped answering must not hang the bench
            for fd, _events in epoll.poll(0.5):
                conn = conns[fd]
                try:
                    chunk = conn.sock.recv(262_144)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    # Peer closed or reset: an error; reopen while the run goes on.
                    close(fd)
                    errors += measuring
                    reconnects += 1
                    if reconnects > _MAX_RECONNECTS:
                        raise RuntimeError(f"{url}: connections keep failing")
                    if perf() < stop_at and budget != 0:
                        open_one()
                    continue
                buf = conn.buf + chunk if conn.buf else chunk
                try:
                    framed = _response_end(buf)
                except ValueError:
                    framed = (len(buf), 599)
                if framed is None:
                    conn.buf = buf
                    continue
                end, status = framed
                conn.buf = buf[end:]
                t = perf()
                if measuring:
                    done += 1
                    errors += status >= 400
                    if record_latency:
                        latencies.append(t - conn.sent_at)
                if t >= stop_at or budget == 0:
                    close(fd)
                else:
                    send(conn)
    finally:
        for conn in conns.values():
            conn.sock.close()
        epoll.close()
    end_t = min(perf(), stop_at)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    wall = max(end_t - window_start, 1e-9)
    wait1 = _runqueue_wait_s()
    waited = (wait1 - wait0) / wall if wait0 is not None and wait1 is not None else None
    return LoadResult(done, errors, wall, cpu / wall, latencies, waited)


def _runqueue_wait_s() -> float | None:
    """Seconds this process has spent runnable but not running (Linux schedstat)."""
    try:
        with open("/proc/self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def _pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})


def _in_own_process(spec: dict[str, Any], timeout: float) -> LoadResult:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", "run", json.dumps(spec)],
        capture_output=True,
        timeout=timeout,
        check=False,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed: {proc.stderr.decode()[-2000:]}")
    data = json.loads(proc.stdout)
    return LoadResult(**data)


def generator_cpu() -> int | None:
    """The core the generator takes: the last one, leaving core 0 to the server."""
    count = os.cpu_count() or 1
    return count - 1 if count > 1 else None


def measure_rps(
    url: str,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    connections: int = 64,
    duration_s: float = 3.0,
    warmup_s: float = 0.5,
    cpu: int | None = -1,
    generator: str = "",
) -> LoadResult:
    """Requests/s against `url` from a separate process pinned to `cpu` (-1: generator_cpu()).

    `generator`: "python" (the epoll client here) or "wrk"; by default $BENCH_GENERATOR,
    else wrk when it is on PATH (it needs less CPU per request, so it keeps its lead even on
    a core shared with other work), else python.
    """
    cpu = generator_cpu() if cpu == -1 else cpu
    generator = generator or os.environ.get("BENCH_GENERATOR", "")
    if generator == "wrk" or (not generator and shutil.which("wrk")):
        return _wrk(url, method, body, headers or {}, connections, duration_s, warmup_s, cpu)
    spec = {
        "url": url,
        "method": method,
        "body": body.decode("latin-1"),
        "headers": headers or {},
        "connections": connections,
        "duration_s": duration_s,
        "warmup_s": warmup_s,
        "cpu": cpu,
    }
    return _in_own_process(spec, timeout=warmup_s + duration_s + 30)


_WRK_SCRIPT = """
wrk.method = [==[{method}]==]
wrk.body = [==[{body}]==]
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("\\nRESULT %d %d %d\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def _wrk(
    url: str,
    method: str,
    body: bytes,
    headers: dict[str, str],
    connections: int,
    duration_s: float,
    warmup_s: float,
    cpu: int | None,
) -> LoadResult:
    """One wrk thread on `cpu`; wrk counts whole seconds, so durations round up."""
    build_request(url)  # the same loopback-only rule
    lines = [f"wrk.headers[ [==[{k}]==] ] = [==[{v}]==]" for k, v in headers.items()]
    if body and not any(k.lower() == "content-type" for k in headers):
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    script = _WRK_SCRIPT.format(
        method=method, body=body.decode("latin-1"), headers="\n".join(lines)
    )

    def pin() -> None:
        _pin(cpu)

    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()

        def run(seconds: float) -> tuple[str, float]:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, math.ceil(seconds))}s",
                   "-s", lua.name, url]  # fmt: skip
            out = subprocess.run(
                cmd, capture_output=True, text=True, timeout=seconds + 30, check=True,
                preexec_fn=pin,
            )  # fmt: skip
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            return out.stdout, used

        if warmup_s > 0:
            run(warmup_s)
        text, used = run(duration_s)
    fields = text.rsplit("RESULT ", 1)[1].split()
    requests, duration_us, errors = int(fields[0]), int(fields[1]), int(fields[2])
    elapsed = duration_us / 1e6
    return LoadResult(requests, errors, elapsed, used / elapsed, generator="wrk")


def measure_latency(
    url: str,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    requests: int = 2000,
    concurrency: int = 1,
    warmup: int = 200,
    cpu: int | None = -1,
) -> list[float]:
    """Per-request latencies in seconds (after `warmup` unrecorded requests), for p50/p99."""
    spec = {
        "url": url,
        "method": method,
        "body": body.decode("latin-1"),
        "headers": headers or {},
        "connections": concurrency,
        "requests": requests,
        "warmup_requests": warmup,
        "record_latency": True,
        "cpu": generator_cpu() if cpu == -1 else cpu,
    }
    return _in_own_process(spec, timeout=120).latencies_s


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def _run_spec(spec: dict[str, Any]) -> LoadResult:
    _pin(spec.pop("cpu", None))
    body = spec.pop("body", "").encode("latin-1")
    warmup_requests = spec.pop("warmup_requests", 0)
    if warmup_requests:
        run_load(spec["url"], spec["method"], body, spec["headers"], spec["connections"],
                 requests=warmup_requests)  # fmt: skip
    return run_load(body=body, **spec)


# --- headroom self-test --------------------------------------------------------------------

_CANNED = (
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'
)


def _canned_server(port: int, cpu: int) -> None:
    """The cheapest HTTP server Python can be: one epoll loop answering canned bytes."""
    _pin(cpu)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1024)
    listener.setblocking(False)
    epoll = select.epoll()
    epoll.register(listener.fileno(), select.EPOLLIN)
    socks: dict[int, socket.socket] = {}
    lfd = listener.fileno()
    while True:
        for fd, _ in epoll.poll():
            if fd == lfd:
                client, _addr = listener.accept()
                client.setblocking(False)
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                socks[client.fileno()] = client
                epoll.register(client.fileno(), select.EPOLLIN)
                continue
            sock = socks[fd]
            try:
                data = sock.recv(65_536)
            except OSError:
                data = b""
            if not data:
                epoll.unregister(fd)
                sock.close()
                del socks[fd]
                continue
            sock.send(_CANNED * data.count(b"\r\n\r\n"))


def selftest(duration_s: float = 3.0) -> list[dict[str, Any]]:
    """Generator headroom: requests/s against a canned-response server on the other core.

    The server costs a few µs a request, far less than aiohttp, so what is measured is the
    generator's own ceiling (a lower bound of it): it must sit well above a bare aiohttp
    handler's rate for the figures to measure servers rather than the generator.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "bench.loadgen", "canned", str(port)])
    rows: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        for generator in ["python", "wrk"] if shutil.which("wrk") else ["python"]:
            result = measure_rps(
                f"http://127.0.0.1:{port}/", connections=64, duration_s=duration_s,
                generator=generator,
            )  # fmt: skip
            rows.append(
                {
                    "generator": generator,
                    "rps": round(result.rps),
                    "client_cpu": round(result.client_cpu, 2),
                    "client_wait": None if result.client_wait is None
                    else round(result.client_wait, 2),
                    "errors": result.errors,
                }
            )  # fmt: skip
    finally:
        server.terminate()
        server.wait()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="(internal) run one load spec given as JSON, print JSON")
    run.add_argument("spec")
    canned = sub.add_parser("canned", help="(internal) serve canned responses on a port")
    canned.add_argument("port", type=int)
    sub.add_parser("selftest", help="measure the generator against a canned-response server")
    args = parser.parse_args(argv)
    if args.cmd == "run":
        result = _run_spec(json.loads(args.spec))
        sys.stdout.write(json.dumps(asdict(result)))
    elif args.cmd == "canned":
        _canned_server(args.port, cpu=0)
    else:
        for row in selftest():
            print(json.dumps(row))


if __name__ == "__main__":
    main()
