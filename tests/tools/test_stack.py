"""`make run`'s supervisor, run as a user runs it: a process, its printed lines, its children.

Written over whatever services this checkout has: with none yet, it is NATS and the
supervisor alone; each service that lands is health-checked and crash-tested here for free.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nats
import pytest
import yaml
from system.helpers import StackProcess, drop_pg_databases

from chore_common.testing.databases import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0

pytestmark = [pytest.mark.system, pytest.mark.timeout(300)]


class Supervisor(StackProcess):
    """tools/stack.py as a user runs it: no knobs of the system tests' platform."""

    def __init__(
        self, var_dir: Path, backend: str, pg_prefix: str, *args: str, session: bool = False
    ) -> None:
        """`session`: in a process group of its own, as a shell runs it in a terminal."""
        self.pg_prefix = pg_prefix
        env = {**os.environ, "PG_URL": PG_ADMIN_URL, "NO_COLOR": "1"}
        env.pop("NATS_PORT", None)
        args = ("--database", backend, "--pg-prefix", pg_prefix, *args)
        super().__init__(var_dir, args, env, session=session)

    def wait_for(
        self, pattern: str, timeout: float = START_TIMEOUT_S, after: int = 0
    ) -> re.Match[str]:
        return self.wait_for_line(pattern, timeout, after)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but still listed: read its state rather than trusting kill(0).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def healthz(url: str) -> int:
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:  # noqa: S310
        return int(response.status)


async def jetstream_answers(url: str) -> bool:
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        info = await nc.jetstream().account_info()
        return info is not None
    finally:
        await nc.close()


@contextmanager
def running(
    tmp_path: Path, db_backend: str, *args: str, session: bool = False
) -> Iterator[Supervisor]:
    prefix = f"chore_test_{uuid.uuid4().hex[:8]}_"
    supervisor = Supervisor(tmp_path / "var", db_backend, prefix, *args, session=session)
    try:
        yield supervisor
    finally:
        supervisor.stop()
        if db_backend == "postgres":
            drop_pg_databases([f"{prefix}{name}" for name in ("auth", "tasks", "messaging")])


@pytest.fixture
def platform(tmp_path: Path, db_backend: str) -> Iterator[Supervisor]:
    with running(tmp_path, db_backend) as supervisor:
        yield supervisor


def test_platform_serves_restarts_a_killed_child_and_stops_cleanly(platform: Supervisor) -> None:
    platform.wait_for(r"the platform is up")
    state = platform.state()
    started_pids = dict(state["pids"])

    # NATS answers, with JetStream.
    assert asyncio.run(jetstream_answers(state["nats_url"]))

    # Every service that exists in this checkout is printed and healthy.
    for name, urls in state["services"].items():
        platform.wait_for(rf"^platform\s*\|\s+{name}\s+http://")
        for url in urls:
            assert healthz(url) == 200, f"{name} at {url}"

    # A child killed with SIGKILL comes back by itself: a service if there is one, else NATS.
    victim = next(iter(n for n in started_pids if n not in ("nats", "smtp")), "nats")
    old_pid = started_pids[victim]
    mark = len(platform.lines)
    os.kill(old_pid, signal.SIGKILL)
    platform.wait_for(rf"{re.escape(victim)} exited with code -9; restarting", after=mark)
    match = platform.wait_for(rf"{re.escape(victim)} healthy \(pid (\d+)\)", 60, after=mark)
    new_pid = int(match.group(1))
    assert new_pid != old_pid
    if victim == "nats":
        assert asyncio.run(jetstream_answers(state["nats_url"]))
    else:
        service = victim.rsplit("-", 1)[0] if victim not in state["services"] else victim
        for url in state["services"][service]:
            assert healthz(url) == 200

    # SIGTERM: everything stops, the supervisor exits 0, no child is left behind.
    children = {*started_pids.values(), new_pid}
    assert platform.stop() == 0
    assert platform.lines[-1].endswith("stopped")
    left = [pid for pid in children if alive(pid)]
    assert left == [], f"children still running: {left}"


def test_a_port_already_taken_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "stack.py"), "--var-dir",
             str(tmp_path / "var")],
            env={**os.environ, "NATS_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )  # fmt: skip
    assert proc.returncode != 0
    assert f"port {port} for nats is in use; set NATS_PORT" in proc.stderr + proc.stdout


# Idle past the event consumers' fetch timeout (ConsumerSpec.idle_fetch_s, 5 s): a stop then
# used to hang in the NATS drain until the supervisor killed the service.
IDLE_PAST_FETCH_TIMEOUT_S = 6.0
SUMMARY_LAST_LINE = r"Ctrl-C stops everything$"


def test_output_is_quiet_the_summary_comes_last_and_ctrl_c_needs_no_kill(
    tmp_path: Path, db_backend: str
) -> None:
    with running(tmp_path, db_backend, session=True) as platform:
        platform.wait_for(SUMMARY_LAST_LINE)
        summary_end = len(platform.lines)
        time.sleep(IDLE_PAST_FETCH_TIMEOUT_S)  # probes every second meanwhile
        idle_lines = platform.lines[summary_end:]
        os.killpg(platform.proc.pid, signal.SIGINT)  # Ctrl-C, as a terminal sends it
        assert platform.proc.wait(timeout=60) == 0
        platform.wait_for(r"^platform\s*\|\s+stopped$", after=summary_end)

    assert idle_lines == [], "printed after the summary while idle"
    started = "\n".join(platform.lines[:summary_end])
    # NATS's banner is left out; its own lines would say "[INF]".
    assert "[INF]" not in "\n".join(platform.lines)
    assert "Starting nats-server" not in started
    # The summary says which database holds what.
    state = platform.state()
    if db_backend == "postgres":
        names = ", ".join(f"{platform.pg_prefix}{s}" for s in ("auth", "tasks", "messaging"))
        assert re.search(rf"database\s+PostgreSQL at [^:]+:\d+: {names}$", started, re.M)
    else:
        var = platform.var_dir.resolve()
        files = "auth.db, tasks.db, messaging.db"
        assert re.search(
            rf"database\s+SQLite files in {re.escape(str(var))}: {files}$", started, re.M
        )
    assert re.search(r"admin login: admin@chore\.local / \S+", started)
    assert f"open {state['url']}  (docs: {state['docs']})" in started
    # The SMTP sink, and the page that shows what it took.
    assert re.search(r"mail\s+smtp://127\.0\.0\.1:\d+ \(aiosmtpd\) into \S+/mail$", started, re.M)
    assert f"(mail sent: {state['mail']})" in started
    # Every service stopped on its own: none had to be killed.
    assert not [line for line in platform.lines if "killing it" in line]


@pytest.mark.parametrize("moment", ["serving", "stopping"])
def test_sigkill_to_the_supervisor_leaves_no_service_running(
    tmp_path: Path, db_backend: str, moment: str
) -> None:
    with running(tmp_path, db_backend, "--replicas", "2") as platform:
        platform.wait_for(SUMMARY_LAST_LINE)
        children = dict(platform.state()["pids"])
        # nats, the SMTP sink, the gateway, two replicas of each other service
        assert len(children) == 9
        time.sleep(IDLE_PAST_FETCH_TIMEOUT_S)
        if moment == "stopping":
            # Killed while it waits for its children to stop (the gateway first).
            mark = len(platform.lines)
            platform.proc.send_signal(signal.SIGTERM)
            platform.wait_for(r"service\.stopping", timeout=10, after=mark)
        platform.proc.kill()
        platform.proc.wait()
        time.sleep(5.0)
        left = {name: pid for name, pid in children.items() if alive(pid)}
        for pid in left.values():
            os.kill(pid, signal.SIGKILL)
    assert left == {}, f"still running 5 s after the supervisor died: {left}"


# -- OBSERVE=1: a real Prometheus beside the platform ----------------------------------------

PROM_RULES = ROOT / "deploy" / "k8s" / "base" / "prometheus" / "rules"
NEVER = "0001-01-01T00:00:00Z"  # Prometheus' lastEvaluation of a group not evaluated yet
PROMETHEUS_WAIT_S = 90.0  # a bound on waiting for scrapes and evaluations, not a figure asserted
REQUEST_RATE = "sum by (service) (rate(http_requests_total[1m]))"  # the summary's link


def prometheus_api(base: str, path: str) -> Any:
    with urllib.request.urlopen(f"{base}/api/v1/{path}", timeout=10) as response:  # noqa: S310
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def wait_until(check: Callable[[], Any], what: str) -> Any:
    """`check()` once it returns something truthy; its last answer in the failure otherwise."""
    deadline = time.monotonic() + PROMETHEUS_WAIT_S
    while not (answer := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not so after {PROMETHEUS_WAIT_S:g} s")
        time.sleep(1.0)
    return answer


def test_observe_without_prometheus_says_how_to_install_it_and_starts_nothing(
    tmp_path: Path,
) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "stack.py"), "--var-dir", str(tmp_path / "var"),
         "--any-port", "--observe"],
        env={**os.environ, "PATH": str(tmp_path / "empty")},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "`prometheus` is not on PATH" in proc.stderr
    assert "apt-get install prometheus" in proc.stderr
    assert "started" not in proc.stdout  # refused before any child
    assert not (tmp_path / "var" / "platform.json").exists()


@pytest.mark.slow
def test_observe_runs_prometheus_with_every_replica_up_and_the_alert_rules_evaluated(
    tmp_path: Path, db_backend: str
) -> None:
    """Done-when 2 of issue 28, through Prometheus' HTTP API: `up == 1` for every replica of
    every service and the gateway, and the shipped rule groups evaluated, healthy."""
    if shutil.which("prometheus") is None:
        pytest.skip(
            "prometheus is not installed (Debian: apt-get install prometheus; .ci/run does)"
        )
    with running(tmp_path, db_backend, "--replicas", "2", "--observe") as platform:
        platform.wait_for(SUMMARY_LAST_LINE)
        state = platform.state()
        prom = state["prometheus"]
        platform.wait_for(rf"^platform\s*\|\s+prometheus\s+{re.escape(prom)}\s")
        link = platform.wait_for(r"request rate by service: (\S+)$").group(1)
        assert link.startswith(f"{prom}/graph?")
        assert urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["g0.expr"] == [REQUEST_RATE]
        replicas = {name: len(urls) for name, urls in state["services"].items()}
        assert replicas == {"auth": 2, "tasks": 2, "messaging": 2, "gateway": 1}

        def all_up() -> list[dict[str, Any]] | None:
            series = prometheus_api(prom, "query?query=up")["result"]
            ups = [s for s in series if s["value"][1] == "1"]
            return ups if len(ups) == sum(replicas.values()) == len(series) else None

        ups = wait_until(all_up, "every replica up == 1")
        by_app: dict[str, set[str]] = {}
        for series in ups:
            assert series["metric"]["job"] == "chore-pods"  # what the TargetDown alert watches
            by_app.setdefault(series["metric"]["app"], set()).add(series["metric"]["pod"])
        assert {app: len(pods) for app, pods in by_app.items()} == replicas
        # A replica's /metrics is on its own port: the target is that replica, not another.
        for name, urls in state["services"].items():
            if name != "gateway":
                scraped = {s["metric"]["instance"] for s in ups if s["metric"]["app"] == name}
                assert scraped == {url.removeprefix("http://") for url in urls}

        # `make demo` then shows in it: a request rate for every service.
        demo = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "demo.py"), "--url", state["url"]],
            capture_output=True, text=True, timeout=120, cwd=ROOT,
        )  # fmt: skip
        assert demo.returncode == 0, demo.stdout + demo.stderr

        def rates() -> set[str] | None:
            query = urllib.parse.quote(f"{REQUEST_RATE} > 0")
            found = {
                r["metric"]["service"]
                for r in prometheus_api(prom, f"query?query={query}")["result"]
            }
            return found if found >= set(replicas) else None

        wait_until(rates, "a request rate for every service after the demo")

        shipped = {
            group["name"]
            for path in PROM_RULES.glob("*.yaml")
            for group in yaml.safe_load(path.read_text())["groups"]
        }

        def all_evaluated() -> list[dict[str, Any]] | None:
            groups = prometheus_api(prom, "rules")["groups"]
            done = [g for g in groups if g["lastEvaluation"] != NEVER]
            return groups if len(done) == len(groups) else None

        groups = wait_until(all_evaluated, "every rule group evaluated")
        assert {g["name"] for g in groups} == shipped
        alerts = [r for g in groups for r in g["rules"] if r["type"] == "alerting"]
        assert alerts, "no alert rule loaded"
        unhealthy = {r["name"]: r.get("lastError") for g in groups for r in g["rules"]
                     if r["health"] != "ok"}  # fmt: skip
        assert unhealthy == {}
    assert platform.proc.returncode == 0
    assert not [line for line in platform.lines if "prometheus still running" in line]
