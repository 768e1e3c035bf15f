"""What the figures were measured on: they mean little without the machine next to them."""

from __future__ import annotations

import os
import platform
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def describe() -> dict[str, Any]:
    try:
        import aiohttp

        aiohttp_version = aiohttp.__version__
    except ImportError:
        aiohttp_version = None
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_gib": memory_gib(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "aiohttp": aiohttp_version,
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "load_generator": os.environ.get("BENCH_GENERATOR")
        or ("wrk" if shutil.which("wrk") else "python"),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def server_env(*own_prefixes: str) -> dict[str, str]:
    """The environment a bench server starts with: the deployed configuration
    (`bench.deployed`: the prod overlay's tracing, exporting to the bench's receiver)."""
    from bench.deployed import server_env as deployed_env

    return deployed_env(*own_prefixes)


def cpu_ticks() -> list[int] | None:
    """The machine's CPU time so far by kind (Linux /proc/stat, in clock ticks)."""
    try:
        return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None


def steal_share(before: list[int] | None, after: list[int] | None) -> float | None:
    """Share of the CPU time between two `cpu_ticks()` that the hypervisor gave to other
    guests (steal). On a shared VM this is what makes two runs of the same code differ."""
    if before is None or after is None or len(before) < 8 or len(after) < 8:
        return None
    # user nice system idle iowait irq softirq steal (guest time is already in user).
    spent = [a - b for a, b in zip(after[:8], before[:8], strict=True)]
    total = sum(spent)
    return spent[7] / total if total > 0 else None
