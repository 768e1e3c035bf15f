"""Pluggable readiness checks: the database, NATS, or anything a service depends on.

A check is an async callable that returns when the dependency answers and raises when it
does not. `/readyz` runs them all with a short timeout; any failure gives 503 + Retry-After.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Check = Callable[[], Awaitable[None]]


class Readiness:
    def __init__(self, timeout_s: float = 1.0) -> None:
        self.timeout_s = timeout_s
        self.shutting_down = False
        self._checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def remove(self, name: str) -> None:
        self._checks.pop(name, None)

    async def run(self) -> dict[str, str]:
        """Name -> "ok" or a short reason. Checks run concurrently, each bounded in time."""

        async def one(check: Check) -> str:
            try:
                await asyncio.wait_for(check(), self.timeout_s)
            except TimeoutError:
                return "timeout"
            except Exception as exc:  # a failing check is a result, not an error
                return f"down: {type(exc).__name__}"
            return "ok"

        names = list(self._checks)
        results = await asyncio.gather(*(one(self._checks[n]) for n in names))
        report = dict(zip(names, results, strict=True))
        if self.shutting_down:
            report["shutdown"] = "draining"
        return report

    @staticmethod
    def is_ready(report: dict[str, str]) -> bool:
        return all(v == "ok" for v in report.values())
