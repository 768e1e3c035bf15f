"""Done-when 4: each service, started as a real process by its console script, stops within
what its pod allows (terminationGracePeriodSeconds - preStop sleep, read from the rendered
manifests) while under load, and every request in flight when SIGTERM arrived is answered.
And idle: every service, left alone longer than the event consumers' fetch timeout, exits 0
within its SHUTDOWN_DRAIN_S + 2 s of SIGTERM (it used to hang in the NATS drain).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chore_common.testing.nats import NatsServer, free_port

from .manifests import Doc, env_map, main_container, service_deployments, termination_budget_s

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.timeout(240)]

BIN = Path(sys.executable).parent
CONCURRENCY = 8
LOAD_BEFORE_SIGTERM_S = 1.5


def _available(service: str) -> bool:
    return (
        importlib.util.find_spec(f"chore_{service}") is not None
        and importlib.util.find_spec(f"chore_{service}.__main__") is not None
        and (BIN / f"chore-{service}").exists()
    )


@dataclass
class Running:
    service: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)


@contextmanager
def serve(
    service: str, tmp_path: Path, nats_url: str, database_url: str | None, **settings: str
) -> Iterator[Running]:
    """`chore-<service> serve` on a free port, ready (GET /readyz 200) when yielded."""
    prefix = f"{service.upper()}_"
    port = free_port()
    env = {
        **os.environ,
        f"{prefix}HOST": "127.0.0.1",
        f"{prefix}PORT": str(port),
        f"{prefix}WORKERS": "1",
        f"{prefix}NATS_URL": nats_url,
        f"{prefix}VAR_DIR": str(tmp_path / "var"),
        f"{prefix}LOG_LEVEL": "WARNING",
        "OTEL_TRACES_EXPORTER": "none",
    }
    if database_url is not None:
        env[f"{prefix}DATABASE_URL"] = database_url
        env[f"{prefix}MIGRATE_ON_START"] = "true"
    if service == "gateway":
        env["GATEWAY_METRICS_PORT"] = "0"  # its own listener: a free port, never the default
    env.update({f"{prefix}{k.upper()}": v for k, v in settings.items()})
    log = tmp_path / f"{service}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # the console script, as the image's command runs it
            [str(BIN / f"chore-{service}"), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    running = Running(service, f"http://127.0.0.1:{port}", process, log, env)
    try:
        _wait_ready(running)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _wait_ready(running: Running, timeout: float = 60.0) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise AssertionError(f"{running.service} exited: {running.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{running.url}/readyz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{running.service} not ready: {running.log.read_text()[-3000:]}")


@dataclass
class Outcome:
    started: float
    ended: float
    status: int | None
    error: str = ""
    slow: bool = False
    sent: float | None = None  # when its last body bytes went to the socket


@dataclass
class Measure:
    sigterm_at: float = 0.0
    exited_at: float = 0.0
    exit_code: int | None = None
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.exited_at - self.sigterm_at

    def in_flight(self) -> list[Outcome]:
        # Written to the socket before the signal was sent: on loopback the bytes were at the
        # server first, so it had the request when it began to stop.
        return [
            o for o in self.outcomes
            if o.sent is not None and o.sent <= self.sigterm_at <= o.ended
        ]  # fmt: skip


Send = Callable[[aiohttp.ClientSession, Any, Any], Awaitable[int]]
Body = Callable[[int], dict[str, Any]]


async def load_then_sigterm(
    running: Running,
    send: Send,
    body: Body,
    slow_uploads: int = 0,
    finish_uploads_after_s: float = 0.3,
) -> Measure:
    """CONCURRENCY clients loop requests and SIGTERM lands mid-load; clients stop starting
    new requests at SIGTERM; the process's exit is timed. `slow_uploads` more clients send
    half a body before SIGTERM and the rest after it (a slow mobile upload)."""
    measure = Measure()
    stop = asyncio.Event()
    release = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=CONCURRENCY + slow_uploads)
    timeout = aiohttp.ClientTimeout(total=60)
    tracing = aiohttp.TraceConfig()

    async def on_chunk_sent(session: Any, ctx: Any, params: Any) -> None:
        ctx.trace_request_ctx["sent"] = time.monotonic()

    tracing.on_request_chunk_sent.append(on_chunk_sent)

    async def timed(data: Any, slow: bool = False) -> None:
        started, ctx = time.monotonic(), {"sent": None}
        try:
            status: int | None = await send(session, data, ctx)
            error = ""
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"
        outcome = Outcome(started, time.monotonic(), status, error, slow, ctx["sent"])
        measure.outcomes.append(outcome)

    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, trace_configs=[tracing]
    ) as session:

        async def client(n: int) -> None:
            i = 0
            while not stop.is_set():
                data = json.dumps(body(n * 1_000_000 + i)).encode()
                await timed(data)
                i += 1

        async def upload(n: int) -> None:
            data = json.dumps(body(-n - 1)).encode()

            async def halves() -> AsyncIterator[bytes]:
                yield data[: len(data) // 2]
                await release.wait()
                yield data[len(data) // 2 :]

            await timed(halves(), slow=True)

        clients = [asyncio.create_task(client(n)) for n in range(CONCURRENCY)]
        await asyncio.sleep(LOAD_BEFORE_SIGTERM_S)
        uploads = [asyncio.create_task(upload(n)) for n in range(slow_uploads)]
        if uploads:
            await asyncio.sleep(0.3)  # their headers and first half are at the server
        measure.sigterm_at = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
        stop.set()
        if uploads:
            await asyncio.sleep(finish_uploads_after_s)
            release.set()
        loop = asyncio.get_running_loop()
        measure.exit_code = await loop.run_in_executor(None, running.process.wait, 120)
        measure.exited_at = time.monotonic()
        await asyncio.gather(*clients, *uploads)
    return measure


def _budget(rendered: dict[str, list[Doc]], service: str) -> tuple[float, str]:
    dep = service_deployments(rendered["dev"])[service]
    grace = env_map(rendered["dev"], main_container(dep))[f"{service.upper()}_SHUTDOWN_GRACE_S"]
    assert grace.value is not None
    return termination_budget_s(dep), grace.value


def _check(service: str, measure: Measure, budget: float, ok: set[int], log: Path) -> None:
    in_flight = measure.in_flight()
    print(  # the figure for the closing note (pytest -s shows it)
        f"\n{service}: exit {measure.seconds:.2f}s after SIGTERM under load"
        f" (budget {budget:g}s), {len(measure.outcomes)} requests,"
        f" {len(in_flight)} in flight at SIGTERM"
    )
    assert measure.exit_code == 0, log.read_text()[-3000:]
    assert measure.seconds < budget, f"{service} took {measure.seconds:.2f}s, pod allows {budget}s"
    assert in_flight, "the load did not overlap SIGTERM: nothing was tested"
    failed = [o for o in in_flight if o.status not in ok]
    assert not failed, f"in-flight requests not answered: {failed[:5]}"


async def _sign_up_and_log_in(session: aiohttp.ClientSession, auth_url: str) -> str:
    email = f"load-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": "correct horse battery", "name": "Load", "role": "client"}
    async with session.post(f"{auth_url}/auth/register", json=body) as response:
        assert response.status == 201, await response.text()
    login = {"email": email, "password": body["password"]}
    async with session.post(f"{auth_url}/auth/login", json=login) as response:
        assert response.status == 200, await response.text()
        token: str = (await response.json())["access_token"]
    return token


@asynccontextmanager
async def _session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
def two_databases(database_factory: Callable[[], str]) -> list[str]:
    # Made before the test's event loop runs (the factory runs its own loop).
    return [database_factory(), database_factory()]


# -- per service --------------------------------------------------------------------------------


JSON = {"Content-Type": "application/json"}


def _poster(url: str, headers: dict[str, str] | None = None) -> Send:
    async def send(session: aiohttp.ClientSession, data: Any, ctx: Any) -> int:
        all_headers = {**JSON, **(headers or {})}
        async with session.post(
            url, data=data, headers=all_headers, trace_request_ctx=ctx
        ) as response:
            await response.read()
            return response.status

    return send


def _sign_up_body(n: int) -> dict[str, Any]:
    return {
        "email": f"u{n}-{uuid.uuid4().hex[:8]}@example.com",
        "password": "correct horse battery",
        "name": "Load",
        "role": "client",
    }


async def test_auth_stops_in_time_under_load(
    rendered: dict[str, list[Doc]], nats_server: NatsServer, database_url: str, tmp_path: Path
) -> None:
    budget, grace = _budget(rendered, "auth")
    # Sign-ups hash with argon2id: each holds the request for tens of milliseconds.
    with serve(
        "auth", tmp_path, nats_server.url, database_url, shutdown_grace_s=grace, hash_threads="1"
    ) as auth:
        measure = await load_then_sigterm(auth, _poster(f"{auth.url}/auth/register"), _sign_up_body)
    _check("auth", measure, budget, {201}, auth.log)


async def test_tasks_stops_in_time_under_load(
    rendered: dict[str, list[Doc]],
    nats_server: NatsServer,
    two_databases: list[str],
    tmp_path: Path,
) -> None:
    budget, grace = _budget(rendered, "tasks")
    # Accounts post at once, as under `make run`: the load is POST /tasks, not verification.
    with serve(
        "auth", tmp_path, nats_server.url, two_databases[0], require_verified_email="false"
    ) as auth:
        jwks = f"{auth.url}/auth/.well-known/jwks.json"
        with serve(
            "tasks", tmp_path, nats_server.url, two_databases[1], shutdown_grace_s=grace,
            jwks_url=jwks,
        ) as tasks:  # fmt: skip
            async with _session() as session:
                token = await _sign_up_and_log_in(session, auth.url)
            send = _poster(f"{tasks.url}/tasks", {"Authorization": f"Bearer {token}"})

            def task(n: int) -> dict[str, Any]:
                return {"title": f"Chore {n}", "category": "garden", "budget_cents": 2500}

            measure = await load_then_sigterm(tasks, send, task)
    _check("tasks", measure, budget, {201}, tasks.log)


@pytest.mark.skipif(not _available("messaging"), reason="the messaging service is not built yet")
async def test_messaging_stops_in_time_under_load(
    rendered: dict[str, list[Doc]],
    nats_server: NatsServer,
    two_databases: list[str],
    tmp_path: Path,
) -> None:
    budget, grace = _budget(rendered, "messaging")
    with serve("auth", tmp_path, nats_server.url, two_databases[0]) as auth:
        jwks = f"{auth.url}/auth/.well-known/jwks.json"
        with serve(
            "messaging", tmp_path, nats_server.url, two_databases[1], shutdown_grace_s=grace,
            jwks_url=jwks,
        ) as messaging:  # fmt: skip
            async with _session() as session:
                token = await _sign_up_and_log_in(session, auth.url)
            # A conversation this user is not in: each request reads the body, checks
            # authorization in the database and answers 404. Open sockets too: shutdown must
            # close them, not wait for their clients.
            url = f"{messaging.url}/messaging/conversations/{uuid.uuid4()}/messages"
            send = _poster(url, {"Authorization": f"Bearer {token}"})

            def message(n: int) -> dict[str, Any]:
                return {"body": f"hello {n}", "client_msg_id": str(uuid.uuid4())}

            async with _session() as ws_session:
                sockets = [
                    await ws_session.ws_connect(
                        f"{messaging.url}/messaging/ws", protocols=("bearer", token)
                    )
                    for _ in range(4)
                ]
                measure = await load_then_sigterm(messaging, send, message)
                for ws in sockets:
                    await ws.close()
    _check("messaging", measure, budget, {404}, messaging.log)


@pytest.mark.skipif(not _available("gateway"), reason="the gateway service is not built yet")
async def test_gateway_stops_in_time_under_load(
    rendered: dict[str, list[Doc]],
    nats_server: NatsServer,
    two_databases: list[str],
    tmp_path: Path,
) -> None:
    budget, grace = _budget(rendered, "gateway")
    with serve("auth", tmp_path, nats_server.url, two_databases[0]) as auth:
        upstreams = json.dumps({"auth": [auth.url]})
        with serve(
            "gateway", tmp_path, nats_server.url, None, shutdown_grace_s=grace,
            upstreams=upstreams,
        ) as gateway:  # fmt: skip
            # Through the gateway to auth: a sign-up keeps each request busy a while.
            send = _poster(f"{gateway.url}/auth/register")
            measure = await load_then_sigterm(gateway, send, _sign_up_body)
    _check("gateway", measure, budget, {201}, gateway.log)


async def test_upload_finishing_within_the_drain_after_sigterm_is_answered(
    nats_server: NatsServer, database_url: str, tmp_path: Path
) -> None:
    # SHUTDOWN_DRAIN_S defaults to 0.5 s; the second half of each body comes 0.3 s after SIGTERM.
    with serve("auth", tmp_path, nats_server.url, database_url, shutdown_grace_s="3") as auth:
        measure = await load_then_sigterm(
            auth, _poster(f"{auth.url}/auth/register"), _sign_up_body, slow_uploads=2
        )
    uploads = [o for o in measure.outcomes if o.slow]
    assert len(uploads) == 2
    assert all(o.status == 201 for o in uploads), uploads


@pytest.mark.xfail(
    strict=True,
    reason="once the drain (SHUTDOWN_DRAIN_S) is over aiohttp stops reading connections "
    "(web_protocol.data_received drops bytes after _force_close), so an upload still "
    "arriving then waits out SHUTDOWN_GRACE_S and is cut. In Kubernetes the preStop sleep "
    "keeps new uploads away before SIGTERM.",
)
async def test_upload_still_arriving_after_the_drain_is_answered(
    nats_server: NatsServer, database_url: str, tmp_path: Path
) -> None:
    with serve("auth", tmp_path, nats_server.url, database_url, shutdown_grace_s="3") as auth:
        measure = await load_then_sigterm(
            auth,
            _poster(f"{auth.url}/auth/register"),
            _sign_up_body,
            slow_uploads=2,
            finish_uploads_after_s=1.5,
        )
    uploads = [o for o in measure.outcomes if o.slow]
    assert len(uploads) == 2
    assert all(o.status == 201 for o in uploads), uploads


# -- idle ---------------------------------------------------------------------------------------


SETTINGS = {
    "auth": "chore_auth.settings:AuthSettings",
    "tasks": "chore_tasks.settings:TasksSettings",
    "messaging": "chore_messaging.settings:MessagingSettings",
    "gateway": "chore_gateway.settings:GatewaySettings",
}


def _drain_s(running: Running) -> float:
    """SHUTDOWN_DRAIN_S as the service reads it from the environment it was started with."""
    module, name = SETTINGS[running.service].split(":")
    cls = getattr(importlib.import_module(module), name)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in running.env.items():
            patch.setenv(key, value)
        return float(cls().shutdown_drain_s)


def _fetch_timeout_s() -> float:
    """The longest idle poll of any event consumer (messaging's is the one there is)."""
    from chore_messaging.adapters.consumers import SPEC

    return SPEC.idle_fetch_s


def _stop_all_and_time(services: list[Running]) -> dict[str, tuple[int, float]]:
    """SIGTERM to every service at once; each one's exit code and seconds to exit."""
    signalled: dict[str, float] = {}
    for running in services:
        signalled[running.service] = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
    exits: dict[str, tuple[int, float]] = {}
    pending = list(services)
    give_up = time.monotonic() + 60
    while pending and time.monotonic() < give_up:
        for running in list(pending):
            code = running.process.poll()
            if code is not None:
                exits[running.service] = (code, time.monotonic() - signalled[running.service])
                pending.remove(running)
        time.sleep(0.02)
    return exits


def test_every_service_idle_past_the_consumer_fetch_timeout_exits_0_within_its_drain_plus_2s(
    nats_server: NatsServer,
    database_factory: Callable[[], str],
    tmp_path: Path,
) -> None:
    databases = {name: database_factory() for name in ("auth", "tasks", "messaging")}
    with serve("auth", tmp_path, nats_server.url, databases["auth"]) as auth:
        jwks = f"{auth.url}/auth/.well-known/jwks.json"
        with (
            serve("tasks", tmp_path, nats_server.url, databases["tasks"], jwks_url=jwks) as tasks,
            serve(
                "messaging", tmp_path, nats_server.url, databases["messaging"], jwks_url=jwks
            ) as messaging,
        ):
            pools = {"auth": [auth.url], "tasks": [tasks.url], "messaging": [messaging.url]}
            with serve(
                "gateway", tmp_path, nats_server.url, None, upstreams=json.dumps(pools)
            ) as gateway:
                services = [gateway, messaging, tasks, auth]
                drains = {r.service: _drain_s(r) for r in services}
                # Idle polls of messaging's consumer time out, one after another: any of them
                # may leave a late "request timeout" status behind (one in two or three did,
                # here), which is what held the NATS drain.
                time.sleep(3 * _fetch_timeout_s() + 1.5)
                exits = _stop_all_and_time(services)

    for running in services:
        code, seconds = exits.get(running.service, (None, float("inf")))
        print(  # the figure for the closing note (pytest -s shows it)
            f"\n{running.service}: exit {code} {seconds:.2f}s after SIGTERM, idle"
            f" (drain {drains[running.service]:g}s)"
        )
    for running in services:
        code, seconds = exits.get(running.service, (None, float("inf")))
        log = running.log.read_text()[-3000:]
        assert code == 0, f"{running.service} exit {code}: {log}"
        limit = drains[running.service] + 2.0
        assert seconds < limit, f"{running.service} took {seconds:.2f}s (limit {limit:g}s): {log}"
