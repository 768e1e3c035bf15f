"""Tasks' figures, each next to its raw ceiling measured in the same run.

- `tasks.create_p50_ms`: POST /tasks through the real service (token verification, body
  validation, the task row, its outbox row, one commit, the relay publishing), one client,
  p50. The ceiling is the p50 of one raw one-row transaction on the same database, from a
  client at concurrency 1. Target: 5 ms.
- `tasks.create_vs_db_ratio` (SQLite) and `tasks.create_vs_db_ratio_pg` (PostgreSQL): POST
  /tasks per second with 32 clients vs raw one-row transactions per second on the same
  database at the same concurrency (SQLAlchemy async, the same engine settings as the
  service), measured back to back. Target: >= 0.50. The service groups posts arriving
  together into one transaction (`adapters/group_commit.py`); the note gives the ratio of
  the same service with `TASKS_GROUP_COMMIT=false`, measured in the same rounds.
- `tasks.get_cached_rps_ratio`: cached GET /tasks/{id} (bearer token verified on every
  request, then the read cache) vs a bare aiohttp JSON handler, per second of server CPU.
  Target: >= 0.35. `tasks.token_verify_share` says how much of a cached GET's CPU the token
  verification alone costs.

Servers run in processes pinned to core 0; the load generator takes the last core.
"""

from __future__ import annotations

import argparse
import asyncio
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
from pathlib import Path
from typing import Any

from bench.common_stack import (
    Server,
    cpu_seconds,
    measure,
)
from bench.common_stack import (
    server as common_server,
)
from bench.figures import Description, Figure, median
from bench.loadgen import measure_latency, measure_rps, percentile
from bench.machine import server_env
from chore_common.testing.nats import free_port

SERVER_CPU = 0
CREATE_CONNECTIONS = 32
DURATION_S = 2.0
LATENCY_REQUESTS = 600
RAW_TABLE = "bench_rows"

DESCRIPTIONS = {
    "tasks.create_p50_ms": Description(
        measures="POST /tasks through the real service, one client, one request at a time,"
        " p50: token verification, body validation, the task row and its outbox row in one"
        " commit, the relay publishing; SQLite.",
        ceiling="the p50 of one raw one-row transaction on the same database, from a client"
        " at concurrency 1",
        limits="SQLite's single writer: every write transaction takes the write lock at"
        " BEGIN IMMEDIATE. The relay marks published rows sent together, up to 0.1 s later,"
        " so no marking transaction per request queues in front of the next post"
        " (ADR 0002).",
    ),
    "tasks.create_vs_db_ratio": Description(
        measures=f"POST /tasks per second with {CREATE_CONNECTIONS} clients on SQLite,"
        " measured back to back with the raw transactions.",
        ceiling="raw one-row INSERT transactions per second on the same database at the same"
        " concurrency (SQLAlchemy async, the service's engine settings)",
        limits="Commits. Posts arriving together share one transaction (group commit, up to"
        " 64: `adapters/group_commit.py`), so on SQLite the ratio can pass 1; the note gives"
        " the ratio with one transaction per post (`TASKS_GROUP_COMMIT=false`), measured in"
        " the same rounds.",
    ),
    "tasks.create_vs_db_ratio_pg": Description(
        measures=f"POST /tasks per second with {CREATE_CONNECTIONS} clients on PostgreSQL,"
        " measured back to back with the raw transactions.",
        ceiling="raw one-row INSERT transactions per second on the same database at the same"
        " concurrency (SQLAlchemy async, the service's engine settings)",
        limits="Round trips to PostgreSQL and its commit flushes, shared by the posts of a"
        " group commit as on SQLite; the pool is fixed at 20 connections, no overflow"
        " (ADR 0001). The note gives the ratio with one transaction per post.",
    ),
    "tasks.get_cached_rps_ratio": Description(
        measures="Cached GET /tasks/{id} per second of server CPU: the bearer token verified"
        " on every request (a token seen before: the verified-token cache), then the"
        " event-invalidated read cache; 64 connections.",
        ceiling="a bare aiohttp JSON handler (common.stack_rps_ratio's bare server) in the"
        " same runs",
        limits="The common stack (common.stack_rps_ratio) plus the service's auth middleware"
        " and the cache lookup; tasks.token_verify_share gives the token check's part.",
    ),
    "tasks.token_verify_share": Description(
        measures="The share of a cached GET's CPU spent verifying its bearer token (a token"
        " seen before); the note gives a token's first sight too. Informational.",
        ceiling="",
        limits="The verified-token cache: a token seen again costs a dict lookup and the"
        " checks of what can change (expiry, revocation, the key still served).",
    ),
}


# -- a stand-in token issuer: JWKS over HTTP, tokens signed like auth's ----------------------


class Issuer:
    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from chore_common.auth.jwks import public_jwk

        self.key = Ed25519PrivateKey.generate()
        self.kid = f"bench-{uuid.uuid4().hex[:8]}"
        document = json.dumps({"keys": [public_jwk(self.key.public_key(), self.kid)]}).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def token(self, role: str) -> str:
        import jwt

        now = int(time.time())
        claims = {
            "sub": str(uuid.uuid4()),
            "sid": str(uuid.uuid4()),
            "role": role,
            "ev": True,  # a verified email, as every account that posts has
            "iat": now,
            "exp": now + 3600,
            "iss": "chore-auth",
            "aud": "chore-platform",
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})

    def close(self) -> None:
        self.httpd.shutdown()


# -- the service as deployed, pinned to core 0 ------------------------------------------------


def serve(port: int, database_url: str, nats_url: str, jwks_url: str) -> None:
    """Child process: the tasks service via the services' own runner."""
    from chore_common.serving import serve as serve_app
    from chore_tasks.app import create_app
    from chore_tasks.settings import TasksSettings

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {SERVER_CPU})
    settings = TasksSettings(
        port=port,
        database_url=database_url,
        nats_url=nats_url,
        jwks_url=jwks_url,
        migrate_on_start=True,
        var_dir=Path(tempfile.gettempdir()),
        shutdown_grace_s=1,
    )
    serve_app(create_app, settings)


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("tasks server exited during start")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError("tasks server did not become ready")


@contextmanager
def tasks_server(
    database_url: str, nats_url: str, jwks_url: str, *, env_extra: dict[str, str] | None = None
) -> Iterator[Server]:
    port = free_port()
    env = {**server_env("TASKS_"), **(env_extra or {})}
    cmd = [sys.executable, "-m", "bench.tasks", "serve", str(port), database_url, nats_url]
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            [*cmd, jwks_url],
            stdout=subprocess.DEVNULL,  # the access log still formats and writes its lines
            stderr=errors,
            env=env,
            cwd=Path(__file__).parent.parent,
        )
        try:
            try:
                _wait_ready(port, proc)
            except (TimeoutError, RuntimeError):
                proc.kill()
                proc.wait()
                errors.seek(0)
                raise RuntimeError(
                    "tasks server did not start: " + errors.read().decode(errors="replace")[-2000:]
                ) from None
            yield Server(f"http://127.0.0.1:{port}", proc.pid)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


# -- the raw ceiling: one-row transactions on the same database -------------------------------


def raw_transactions(database_url: str, concurrency: int, seconds: float) -> dict[str, Any]:
    """Child process pinned to core 0: one-row INSERT transactions, `concurrency` at a time,
    through the same engine settings as the service. Returns tx/s and per-tx latencies."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {SERVER_CPU})

    async def main() -> dict[str, Any]:
        from sqlalchemy import text

        from chore_common.db import create_engine

        engine = create_engine(database_url, pool_size=concurrency)
        async with engine.begin() as conn:
            await conn.execute(
                text(f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} (id VARCHAR(36) PRIMARY KEY, n INT)")
            )
        latencies: list[float] = []
        done = 0

        async def worker(deadline: float) -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with engine.begin() as conn:
                    await conn.execute(
                        text(f"INSERT INTO {RAW_TABLE} (id, n) VALUES (:id, 1)"),  # noqa: S608
                        {"id": str(uuid.uuid4())},
                    )
                latencies.append(time.perf_counter() - started)
                done += 1

        await asyncio.gather(*(worker(time.perf_counter() + 0.3) for _ in range(concurrency)))
        done, latencies[:] = 0, []
        started = time.perf_counter()
        await asyncio.gather(*(worker(time.perf_counter() + seconds) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        await engine.dispose()
        return {"tps": done / elapsed, "latencies": latencies}

    return asyncio.run(main())


def raw(database_url: str, concurrency: int, seconds: float) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.tasks",
            "raw",
            database_url,
            str(concurrency),
            str(seconds),
        ],
        capture_output=True,
        text=True,
        timeout=60 + seconds,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    return dict(json.loads(out.stdout))


# -- figures -----------------------------------------------------------------------------------


def _task_body(n: int = 0) -> bytes:
    return json.dumps(
        {"title": f"Bench chore {n}", "category": "bench", "budget_cents": 1000}
    ).encode()


def _create_rps(base: str, token: str) -> float:
    result = measure_rps(
        f"{base}/tasks",
        "POST",
        _task_body(),
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        connections=CREATE_CONNECTIONS,
        duration_s=DURATION_S,
        warmup_s=0.5,
    )
    if result.errors:
        raise RuntimeError(f"POST /tasks: {result.errors} errors under load")
    return result.rps


def _log(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


def _create_figures(
    backend: str, database_url: str, nats_url: str, issuer: Issuer, runs: int
) -> list[Figure]:
    token = issuer.token("client")
    ratios, services, raws, p50s, raw_p50s = [], [], [], [], []
    each_ratios: list[float] = []
    # The same service with group commit off, measured alongside: what grouping buys.
    one_each = {"TASKS_GROUP_COMMIT": "false"}
    with (
        tasks_server(database_url, nats_url, issuer.url) as srv,
        tasks_server(database_url, nats_url, issuer.url, env_extra=one_each) as srv_each,
    ):
        for i in range(runs):
            pair: dict[str, float] = {}
            sides = ("raw", "service", "each")
            for side in sides if i % 2 == 0 else sides[::-1]:
                if side == "raw":
                    pair["raw"] = raw(database_url, CREATE_CONNECTIONS, DURATION_S)["tps"]
                elif side == "service":
                    pair["service"] = _create_rps(srv.url, token)
                else:
                    pair["each"] = _create_rps(srv_each.url, token)
            ratios.append(pair["service"] / pair["raw"])
            each_ratios.append(pair["each"] / pair["raw"])
            services.append(pair["service"])
            raws.append(pair["raw"])
            _log(
                f"run {i + 1}/{runs} {backend}: POST /tasks {pair['service']:.0f}/s"
                f" (one transaction each: {pair['each']:.0f}/s),"
                f" raw tx {pair['raw']:.0f}/s (x{CREATE_CONNECTIONS})"
            )
            if backend == "sqlite":
                latencies = measure_latency(
                    f"{srv.url}/tasks",
                    "POST",
                    _task_body(),
                    {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                    requests=LATENCY_REQUESTS,
                    concurrency=1,
                    warmup=100,
                )
                p50s.append(percentile(latencies, 50) * 1000)
                raw_p50s.append(percentile(raw(database_url, 1, 1.0)["latencies"], 50) * 1000)
                _log(f"run {i + 1}/{runs} POST /tasks p50 {p50s[-1]:.2f} ms")
    name = "tasks.create_vs_db_ratio" + ("" if backend == "sqlite" else "_pg")
    figures = [
        Figure(
            name=name,
            value=round(median(services), 1),
            unit="req/s",
            ceiling=round(median(raws), 1),
            ratio=round(median(ratios), 3),
            target="ratio >= 0.50",
            note=(
                f"{backend}; {CREATE_CONNECTIONS} clients; raw = one-row INSERT transactions"
                f" at the same concurrency; median of {runs} back-to-back rounds"
                f" (ratios {min(ratios):.2f}..{max(ratios):.2f}). Posts arriving together"
                f" share one transaction (group commit); with one transaction each the"
                f" ratio is {median(each_ratios):.2f} (same rounds)"
            ),
        )
    ]
    if p50s:
        figures.append(
            Figure(
                name="tasks.create_p50_ms",
                value=round(median(p50s), 3),
                unit="ms",
                ceiling=round(median(raw_p50s), 3),
                ratio=round(median(p50s) / median(raw_p50s), 2),
                target="value <= 5",
                note="POST /tasks, one client, SQLite; ceiling: p50 of one raw one-row transaction",
            )
        )
    return figures


def _verify_cost(issuer: Issuer, token: str, n: int = 5000, *, cached: bool = True) -> float:
    """Seconds of CPU per token verification with the common verifier (no revocations):
    a token seen again (`cached`, what a client reusing its token costs) or first seen."""
    from chore_common.auth import RevokedSessions, StaticKeys, TokenVerifier

    verifier = TokenVerifier(
        StaticKeys({issuer.kid: issuer.key.public_key()}),
        issuer="chore-auth",
        audience="chore-platform",
        revoked=RevokedSessions(),
        **({} if cached else {"cache_size": 0}),
    )
    started = time.thread_time()
    for _ in range(n):
        verifier.verify_cached(token)
    return (time.thread_time() - started) / n


def _get_figures(database_url: str, nats_url: str, issuer: Issuer, runs: int) -> list[Figure]:
    import urllib.request

    owner = issuer.token("client")
    ratios, cached, bares = [], [], []
    with (
        tasks_server(database_url, nats_url, issuer.url) as srv,
        common_server("bare") as bare_srv,
    ):
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            f"{srv.url}/tasks",
            data=_task_body(),
            headers={"Authorization": f"Bearer {owner}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - 127.0.0.1
            task_id = json.loads(resp.read())["id"]
        reader = issuer.token("tasker")
        target = Server(f"{srv.url}/tasks/{task_id}", srv.pid)
        headers = {"Authorization": f"Bearer {reader}"}
        for i in range(runs):
            pair: dict[str, float] = {}
            for side in ("bare", "cached") if i % 2 == 0 else ("cached", "bare"):
                if side == "bare":
                    pair["bare"] = measure(bare_srv).core_rps
                else:
                    pair["cached"] = _measure_with_headers(target, headers)
            ratios.append(pair["cached"] / pair["bare"])
            cached.append(pair["cached"])
            bares.append(pair["bare"])
            _log(
                f"run {i + 1}/{runs}: cached GET {pair['cached']:.0f} req/core-s,"
                f" bare {pair['bare']:.0f}"
            )
    verify_s = _verify_cost(issuer, issuer.token("tasker"))
    first_s = _verify_cost(issuer, issuer.token("tasker"), 1000, cached=False)
    per_request_s = 1 / median(cached)
    return [
        Figure(
            name="tasks.get_cached_rps_ratio",
            value=round(median(cached), 1),
            unit="req/core-s",
            ceiling=round(median(bares), 1),
            ratio=round(median(ratios), 3),
            target=">= 0.35",
            note=(
                f"GET /tasks/{{id}} from the read cache with a bearer token vs a bare aiohttp"
                f" JSON handler, per second of server CPU; median of {runs} pairs"
            ),
        ),
        Figure(
            name="tasks.token_verify_share",
            value=round(verify_s / per_request_s, 3),
            unit="share",
            note=(
                f"token verification alone: {verify_s * 1e6:.0f} us of CPU of"
                f" {per_request_s * 1e6:.0f} us per cached GET (the token seen before);"
                f" a token's first sight costs {first_s * 1e6:.0f} us"
            ),
        ),
    ]


def _measure_with_headers(srv: Server, headers: dict[str, str]) -> float:
    measure_rps(srv.url, headers=headers, connections=64, duration_s=0.7, warmup_s=0)
    before = cpu_seconds(srv.pid)
    result = measure_rps(
        srv.url, headers=headers, connections=64, duration_s=DURATION_S, warmup_s=0
    )
    after = cpu_seconds(srv.pid)
    if result.errors:
        raise RuntimeError(f"{srv.url}: {result.errors} errors under load")
    used = (after - before) if before is not None and after is not None else 0.0
    return result.requests / used if used > 0 else result.rps


def run(runs: int) -> list[Figure]:
    from chore_common.testing.databases import postgres_reachable, throwaway_database
    from chore_common.testing.nats import NatsServer

    figures: list[Figure] = []
    issuer = Issuer()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        nats = NatsServer(Path(tmp) / "nats").start()
        stack.callback(nats.stop)
        stack.callback(issuer.close)
        sqlite_url = stack.enter_context(throwaway_database("sqlite", Path(tmp)))
        figures += _create_figures("sqlite", sqlite_url, nats.url, issuer, runs)
        figures += _get_figures(sqlite_url, nats.url, issuer, runs)
        if postgres_reachable():
            pg_url = stack.enter_context(throwaway_database("postgres", Path(tmp)))
            figures += _create_figures("postgres", pg_url, nats.url, issuer, runs)
        else:
            _log("PostgreSQL not reachable on 127.0.0.1:5432: tasks.create_vs_db_ratio_pg skipped")
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tasks")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve")
    serve_cmd.add_argument("port", type=int)
    serve_cmd.add_argument("database_url")
    serve_cmd.add_argument("nats_url")
    serve_cmd.add_argument("jwks_url")
    raw_cmd = sub.add_parser("raw")
    raw_cmd.add_argument("database_url")
    raw_cmd.add_argument("concurrency", type=int)
    raw_cmd.add_argument("seconds", type=float)
    sub.add_parser("run").add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.port, args.database_url, args.nats_url, args.jwks_url)
    elif args.command == "raw":
        print(json.dumps(raw_transactions(args.database_url, args.concurrency, args.seconds)))
    else:
        for figure in run(args.runs):
            print(json.dumps(figure.as_json()))


if __name__ == "__main__":
    main()
