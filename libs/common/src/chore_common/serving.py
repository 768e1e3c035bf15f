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
lines.

With `WORKERS=N>1` this process becomes a small supervisor: it spawns N workers that each
bind the port with SO_REUSEPORT (the kernel spreads connections), forwards stop signals, and
exits 0 once all of them have. Workers are *spawned*, not forked, so each imports
prometheus_client after `PROMETHEUS_MULTIPROC_DIR` is set (see observability.metrics).
If one worker dies on its own, the others are stopped and the supervisor exits non-zero:
the orchestrator restarts the whole unit rather than running it short-handed.
"""

from __future__ import annotations

import asyncio
import gc
import glob
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

from aiohttp import web

from chore_common.http.middlewares import Draining
from chore_common.keys import READINESS
from chore_common.logging import configure_logging
from chore_common.observability.metrics import MULTIPROC_ENV
from chore_common.settings import ServiceSettings, load_settings

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


def main(settings_cls: type[S], create_app: Callable[[S], web.Application]) -> None:
    """Entry point of `python -m chore_<svc>`: settings from the environment, then serve."""
    settings = load_settings(settings_cls)
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
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    app = create_app(settings)
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,  # ours (chore.access) replaces aiohttp's
        shutdown_timeout=settings.shutdown_grace_s,
        max_field_size=SERVER_LIMITS["max_field_size"],
    )
    await runner.setup()  # startup hooks and cleanup_ctx: DB, NATS, relay...
    site = web.TCPSite(runner, settings.host, settings.port, reuse_port=reuse_port)
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


def tune_gc() -> int:
    """Once the app is up: set the collector's threshold and move everything alive now (modules,
    routes, settings, pools: they live as long as the process) out of its sight, so that a full
    collection no longer walks the whole start-up heap. Returns how many objects that was."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, older, oldest)
    return gc.get_freeze_count()


def _worker_entry(create_app: Callable[[S], web.Application], settings: S) -> None:
    _configure_logging(settings)
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
            args=(create_app, settings),
            name=f"{settings.service_name}-worker-{i}",
        )
        for i in range(settings.workers)
    ]
    stopping = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
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

    from prometheus_client.multiprocess import mark_process_dead

    exit_code = 0
    running = list(workers)
    while running:
        for worker in list(running):
            worker.join(timeout=0.2)
            if worker.exitcode is None:
                continue
            running.remove(worker)
            mark_process_dead(worker.pid, metrics_dir)  # type: ignore[no-untyped-call]
            if worker.exitcode != 0 and not exit_code:
                exit_code = 1
            if not stopping:
                log.error(
                    "service.worker_died",
                    extra={"worker": worker.name, "exitcode": worker.exitcode},
                )
                exit_code = exit_code or 1
                forward(signal.SIGTERM, None)
    if own_dir:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    log.info("service.stopped", extra={"exit_code": exit_code})
    return exit_code
