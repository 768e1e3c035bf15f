"""Run a service: one process, or `WORKERS` processes sharing one port, with graceful stop.

```python
# chore_tasks/__main__.py
from chore_common.serving import main
from chore_tasks.app import create_app
from chore_tasks.settings import TasksSettings

if __name__ == "__main__":
    main(TasksSettings, create_app)
```

On SIGTERM or SIGINT a worker: marks readiness as shutting down (`/readyz` -> 503), keeps
answering for `shutdown_drain_s` with `Connection: close` on every response (a request already
sent on a kept-alive connection is answered, not cut), closes its listening socket (new
connections are refused), lets in-flight requests finish for up to `shutdown_grace_s`, runs
the app's cleanup contexts in reverse (consumers, relay, NATS, engine, telemetry), and exits
0. This is aiohttp's own AppRunner sequence; we add the readiness flag, the drain and our log
lines. Whatever hangs, the stop is bounded: `stop_deadline_s` after the signal a watchdog
thread logs `service.stop_overran` and ends the process (exit 1), so an orchestrator or
`make run` never has to wait for its own SIGKILL, and a process told to stop by a dying
parent (see `die_with_parent`) never outlives it for long.

With `WORKERS=N>1` this process becomes a small supervisor: it spawns N workers that each
bind the port with SO_REUSEPORT (the kernel spreads connections), forwards stop signals, and
exits 0 once all of them have. Workers are *spawned*, not forked, so each imports
prometheus_client after `PROMETHEUS_MULTIPROC_DIR` is set (see telemetry.metrics).
If one worker dies on its own, the others are stopped and the supervisor exits non-zero:
the orchestrator restarts the whole unit rather than running it short-handed. Workers get
SIGTERM when the supervisor dies, however it dies (Linux), and one still running past its
stop deadline is killed.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import glob
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import TypeVar

from aiohttp import web

from chore_common.keys import READINESS
from chore_common.settings import ServiceSettings, SettingsError, load_settings
from chore_common.telemetry.logs import configure_logging
from chore_common.telemetry.metrics import MULTIPROC_ENV
from chore_common.telemetry.requests import Draining
from chore_common.telemetry.tracing import TracingConfigError
from chore_common.telemetry.tracing import check_environment as check_tracing_environment

S = TypeVar("S", bound=ServiceSettings)
AppFactory = Callable[[S], web.Application]

log = logging.getLogger(__name__)

# Room for one oversized header (aiohttp's default is 8190 bytes) so that a 10 KB
# X-Request-ID reaches our middleware and is replaced, rather than failing the whole request
# with a bare 400 from the parser. Bodies are bounded separately (max_body_bytes).
SERVER_LIMITS: dict[str, int] = {"max_field_size": 16 * 1024}

# Python's cyclic collector runs whenever 700 more container objects are alive than at its
# last run. Under load the objects of requests in flight alone pass that many times a second,
# so each run walked live objects to free nothing (refcounting frees nearly everything) and
# every tenth also walked the older ones: ~9 % of a proxied request's CPU (perf, bench
# gateway). With headroom for a few hundred requests in flight it runs rarely; cyclic
# garbage waits a little longer for it, which costs memory, not correctness.
GC_GEN0_THRESHOLD = 10_000

# What a stop may take beyond SHUTDOWN_DRAIN_S + SHUTDOWN_GRACE_S: the cleanup after the last
# request (consumers, relay, NATS drain, database, span flush), a second or two when all goes
# well. Kubernetes allows SHUTDOWN_GRACE_S + 5 s after the preStop sleep (tests/deploy/policy).
STOP_CLEANUP_S = 3.0
EXIT_STOP_OVERRAN = 1
PR_SET_PDEATHSIG = 1


def stop_deadline_s(settings: ServiceSettings) -> float:
    """How long after SIGTERM the process is gone at the latest."""
    return settings.shutdown_drain_s + settings.shutdown_grace_s + STOP_CLEANUP_S


# An app may bring its own runner class (a web.AppRunner subclass): the gateway's makes its
# client connections time out slow request heads and answer parse errors as problem+json.
RUNNER: web.AppKey[Callable[..., web.AppRunner]] = web.AppKey("chore.runner")


def main(settings_cls: type[S], create_app: Callable[[S], web.Application]) -> None:
    """Entry point of `python -m chore_<svc>`: settings from the environment, then serve."""
    settings = load_settings(settings_cls)
    try:
        check_tracing_environment()
    except TracingConfigError as exc:
        raise SettingsError(f"{settings.service_name}: invalid setting {exc}") from None
    serve(create_app, settings)


def serve(create_app: Callable[[S], web.Application], settings: S) -> None:
    _configure_logging(settings)
    if settings.workers > 1:
        sys.exit(_supervise(create_app, settings))
    asyncio.run(_run_worker(create_app, settings, reuse_port=False))


async def _run_worker(
    create_app: Callable[[S], web.Application], settings: S, *, reuse_port: bool
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_stop_signal() -> None:
        if not stop.is_set():
            stop.set()
            _exit_at_deadline(stop_deadline_s(settings))

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_stop_signal)

    app = create_app(settings)
    runner = app.get(RUNNER, web.AppRunner)(
        app,
        handle_signals=False,
        access_log=None,  # ours (chore.access) replaces aiohttp's
        shutdown_timeout=settings.shutdown_grace_s,
        max_field_size=SERVER_LIMITS["max_field_size"],
    )
    await runner.setup()  # startup hooks and cleanup_ctx: DB, NATS, relay...
    site = web.TCPSite(
        runner,
        settings.host,
        settings.port,
        reuse_port=reuse_port,
        backlog=settings.listen_backlog,
    )
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    host, port = runner.addresses[0][:2]
    frozen = tune_gc()
    log.info(
        "service.started",
        extra={"url": f"http://{host}:{port}", "pid": os.getpid(), "gc_frozen": frozen},
    )
    await stop.wait()

    if READINESS in app:
        app[READINESS].shutting_down = True
    log.info("service.stopping", extra={"grace_s": settings.shutdown_grace_s})
    if settings.shutdown_drain_s > 0:
        # Closing at once would drop a request already on its way over a kept-alive
        # connection the server still sees as idle (the client then gets a disconnect, not an
        # answer). Keep answering for a moment, telling each client to close its connection.
        Draining.active = True
        await asyncio.sleep(settings.shutdown_drain_s)
    # Stops the listener, waits for in-flight requests up to the grace, then cleanup_ctx.
    await runner.cleanup()
    log.info("service.stopped")


def _configure_logging(settings: ServiceSettings) -> None:
    configure_logging(
        settings.service_name, settings.log_level, access_log_probes=settings.access_log_probes
    )


def _exit_at_deadline(seconds: float) -> threading.Timer:
    """From now on the process has `seconds` to end; then it is ended, whatever it is doing.

    A thread, not the event loop, keeps the time: the loop may be what is stuck (a cleanup
    awaiting a server that is gone, a blocking call). The timer is never cancelled: it bounds
    the interpreter's own exit too (executor threads joined at exit), and as a daemon thread
    it does not delay a process that ends in time.
    """

    def overran() -> None:
        log.error("service.stop_overran", extra={"limit_s": seconds, "pid": os.getpid()})
        sys.stdout.flush()
        os._exit(EXIT_STOP_OVERRAN)

    timer = threading.Timer(seconds, overran)
    timer.daemon = True
    timer.start()
    return timer


def die_with_parent(parent_pid: int) -> None:
    """Linux: get SIGTERM when the process that started this one dies, however it dies (even
    SIGKILL), and stop now if it is gone already. Call it first thing in a child.

    The kernel sends the signal when the *thread* that forked this process ends; our parents
    fork from their main thread, which lives as long as they do. A stop that SIGTERM starts
    is bounded by `stop_deadline_s`, so the child cannot outlive its parent for long.
    """
    if sys.platform != "linux":
        return
    prctl = getattr(ctypes.CDLL(None), "prctl", None)
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # it died before we asked: nobody will send the signal
        log.warning("service.parent_gone", extra={"parent_pid": parent_pid})
        raise SystemExit(1)


def tune_gc() -> int:
    """Once the app is up: set the collector's threshold and move everything alive now (modules,
    routes, settings, pools: they live as long as the process) out of its sight, so that a full
    collection no longer walks the whole start-up heap. Returns how many objects that was."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, older, oldest)
    return gc.get_freeze_count()


def _worker_entry(
    create_app: Callable[[S], web.Application], settings: S, supervisor_pid: int
) -> None:
    _configure_logging(settings)
    die_with_parent(supervisor_pid)
    asyncio.run(_run_worker(create_app, settings, reuse_port=True))


def _supervise(create_app: Callable[[S], web.Application], settings: S) -> int:
    own_dir = MULTIPROC_ENV not in os.environ
    metrics_dir = os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="chore-metrics-")
    for stale in glob.glob(os.path.join(metrics_dir, "*.db")):
        os.remove(stale)  # counters of an earlier run would add up with ours
    os.environ[MULTIPROC_ENV] = metrics_dir

    spawn = multiprocessing.get_context("spawn")
    workers = [
        spawn.Process(
            target=_worker_entry,
            args=(create_app, settings, os.getpid()),
            name=f"{settings.service_name}-worker-{i}",
        )
        for i in range(settings.workers)
    ]
    # Each worker ends itself at its deadline; a second more, and the supervisor does it.
    supervisor = _Supervisor(workers, kill_after_s=stop_deadline_s(settings) + 1.0)
    signal.signal(signal.SIGTERM, supervisor.forward)
    signal.signal(signal.SIGINT, supervisor.forward)
    for worker in workers:
        worker.start()
    log.info(
        "service.started",
        extra={
            "url": f"http://{settings.host}:{settings.port}",
            "workers": settings.workers,
            "pid": os.getpid(),
        },
    )
    exit_code = supervisor.wait(metrics_dir)
    if own_dir:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    log.info("service.stopped", extra={"exit_code": exit_code})
    return exit_code


class _Supervisor:
    """The workers of one supervisor and their stop: a stop signal is forwarded to each; one
    still running `kill_after_s` after the first signal is killed."""

    def __init__(self, workers: Sequence[BaseProcess], *, kill_after_s: float) -> None:
        self.workers = workers
        self.kill_after_s = kill_after_s
        self.stopping = False
        self.kill_at = float("inf")

    def forward(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            self.kill_at = time.monotonic() + self.kill_after_s
        self.stopping = True
        for worker in self.workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signal.SIGTERM)

    def wait(self, metrics_dir: str) -> int:
        """Until every worker has ended: 0 if all ended 0 after a stop signal, else 1 (a
        worker that dies on its own stops the others)."""
        from prometheus_client.multiprocess import mark_process_dead

        exit_code = 0
        running = list(self.workers)
        while running:
            for worker in list(running):
                worker.join(timeout=0.2)
                if worker.exitcode is None:
                    if time.monotonic() > self.kill_at:
                        log.error("service.worker_killed", extra={"worker": worker.name})
                        worker.kill()
                    continue
                running.remove(worker)
                mark_process_dead(worker.pid, metrics_dir)  # type: ignore[no-untyped-call]
                if worker.exitcode != 0 and not exit_code:
                    exit_code = 1
                if not self.stopping:
                    log.error(
                        "service.worker_died",
                        extra={"worker": worker.name, "exitcode": worker.exitcode},
                    )
                    exit_code = exit_code or 1
                    self.forward(signal.SIGTERM, None)
        return exit_code
