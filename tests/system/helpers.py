"""The platform as `make run` starts it (tools/stack.py, a process), and the demo's steps
(tools/demo.py) as a library: what the system tests drive the gateway with."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from chore_common.testing.databases import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 180.0
SERVICES_WITH_DB = ("auth", "tasks", "messaging")

# Knobs the system tests turn, passed to every child through the supervisor's environment.
# The gateway's per-IP rate limit would otherwise meet the load tests, which all come from
# 127.0.0.1; a short upstream timeout keeps the breaker test quick.
PLATFORM_ENV = {
    "GATEWAY_RATE_LIMIT_RPS": "100000",
    "GATEWAY_RATE_LIMIT_BURST": "100000",
    "GATEWAY_UPSTREAM_TIMEOUT_S": "5",
}


def _load_tool(name: str) -> ModuleType:
    # tools/*.py are scripts, not modules of a package: load them by path.
    spec = importlib.util.spec_from_file_location(
        f"chore_{name}_tool", ROOT / "tools" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


demo = _load_tool("demo")


class StackProcess:
    """tools/stack.py as a child process: its printed lines, collected by a thread of their
    own (so the child never blocks on a full pipe while a test waits for a line), and its
    state file. The system tests' platform and tests/tools/test_stack.py's supervisor."""

    def __init__(
        self, var_dir: Path, args: Sequence[str], env: Mapping[str, str], *, session: bool = False
    ) -> None:
        """`session`: in a process group of its own, as a shell runs it in a terminal."""
        self.var_dir = var_dir
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "stack.py"), "--var-dir", str(var_dir),
             "--any-port", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(env),
            cwd=ROOT,
            start_new_session=session,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.lines: list[str] = []
        self.ended = False
        self._seen = threading.Condition()
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()

    def _read(self, output: IO[str]) -> None:
        for line in output:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self.ended = True
            self._seen.notify_all()

    def tail(self, n: int = 60) -> str:
        with self._seen:
            return "\n".join(self.lines[-n:])

    def wait_for_line(self, pattern: str, timeout: float, after: int = 0) -> re.Match[str]:
        """The first printed line (from index `after`) matching `pattern`."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                for line in self.lines[after:]:
                    if match := regex.search(line):
                        return match
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    raise AssertionError(f"no line matching {pattern!r}:\n{self.tail()}")
                self._seen.wait(min(left, 0.5))

    def state(self) -> dict[str, Any]:
        return json.loads((self.var_dir / "platform.json").read_text())  # type: ignore[no-any-return]

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


class RunningPlatform(StackProcess):
    """tools/stack.py as a child process: its printed lines, its state file, its children."""

    def __init__(
        self,
        var_dir: Path,
        backend: str,
        replicas: int,
        pg_prefix: str,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.backend, self.pg_prefix = backend, pg_prefix
        env = {**os.environ, "PG_URL": PG_ADMIN_URL, "NO_COLOR": "1", **PLATFORM_ENV, **(env or {})}
        for name in ("NATS", *(s.upper() for s in (*SERVICES_WITH_DB, "gateway"))):
            env.pop(f"{name}_PORT", None)
        self.started = time.monotonic()
        args = ["--replicas", str(replicas), "--database", backend, "--pg-prefix", pg_prefix]
        super().__init__(var_dir, args, env)
        self.ready_after_s = 0.0

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """The gateway's /readyz answers 200: every upstream pool can serve."""
        self.wait_for_line(r"the platform is up", timeout)
        deadline = time.monotonic() + timeout
        while not self._ready():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"gateway never ready at {self.url}:\n{self.tail()}")
            time.sleep(0.1)
        self.ready_after_s = time.monotonic() - self.started

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as response:  # noqa: S310
                return int(response.status) == 200
        except (OSError, urllib.error.URLError):
            return False

    @property
    def url(self) -> str:
        return str(self.state()["url"])

    def replicas(self, service: str) -> list[str]:
        return list(self.state()["services"][service])

    def pid(self, instance: str) -> int:
        return int(self.state()["pids"][instance])

    def metrics_url(self, timeout: float = 30.0) -> str:
        """Where the gateway's /metrics listens (a port of its own, not the public one), as
        its latest start said."""
        pattern = re.compile(r"gateway\.metrics_listening.*?(http://[0-9.:\[\]]+/metrics)")
        self.wait_for_line(pattern.pattern, timeout)
        with self._seen:
            for line in reversed(self.lines):
                if match := pattern.search(line):
                    return match.group(1)
        raise AssertionError("the gateway never said where /metrics listens")

    def instances(self, service: str) -> list[str]:
        names = self.state()["pids"]
        return [n for n in names if n == service or re.fullmatch(rf"{service}-\d+", n)]


def drop_pg_databases(names: list[str]) -> None:
    """Drop a platform's PostgreSQL databases (they outlive it): from sync code or a test's."""
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            for name in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    # In a thread of its own: the caller may be a test already running an event loop.
    worker = threading.Thread(target=asyncio.run, args=(drop(),))
    worker.start()
    worker.join()


@contextmanager
def launch_platform(
    var_dir: Path, backend: str, replicas: int, env: Mapping[str, str] | None = None
) -> Iterator[RunningPlatform]:
    """A platform of its own: started, waited for, stopped, its databases dropped."""
    prefix = f"chore_sys_{uuid.uuid4().hex[:8]}_"
    running = RunningPlatform(var_dir, backend, replicas, prefix, env)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()
        if backend == "postgres":
            drop_pg_databases([f"{prefix}{name}" for name in SERVICES_WITH_DB])


async def chat_between(api: Any, tag: str) -> tuple[Any, Any, str, str]:
    """A client with a chore, a tasker who offered on it, and their conversation's id."""
    ann = await demo.log_in(api, await demo.sign_up(api, "Ann", "client", tag))
    bob = await demo.log_in(api, await demo.sign_up(api, "Bob", "tasker", tag))
    chore = {"title": "Hang two shelves", "category": "handyman", "budget_cents": 4000}
    task = await api.call("POST", "/tasks", token=ann.token, json_body=chore, expect=(201,))
    offer = {"price_cents": 3500, "message": "Tomorrow?"}
    await api.call(
        "POST", f"/tasks/{task['id']}/offers", token=bob.token, json_body=offer, expect=(201,)
    )
    conv = await demo.conversation_with(api, ann, str(task["id"]), bob)
    return ann, bob, str(task["id"]), str(conv["id"])
