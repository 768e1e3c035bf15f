"""Upstream timeouts without a timer per request.

aiohttp's `sock_read` timeout arms, cancels and re-arms an event-loop timer on every read;
at the gateway's rate those timers were a measurable share of its CPU (bench/gateway.py
profile). Here a request only writes its deadline into a dict, and one sweeper task, every
`resolution_s`, cancels the tasks that are past theirs with a marker the proxy turns into
504. A timeout thus fires up to `resolution_s` late, which no client can tell from a slow
upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

LATE: Final = "gateway: upstream deadline passed"


class Deadlines:
    __slots__ = ("_due", "resolution_s")

    def __init__(self, resolution_s: float = 0.05) -> None:
        self.resolution_s = resolution_s
        self._due: dict[asyncio.Task[object], float] = {}

    def set(self, task: asyncio.Task[object], due: float) -> None:
        self._due[task] = due

    def clear(self, task: asyncio.Task[object]) -> None:
        self._due.pop(task, None)

    @staticmethod
    def is_late(exc: asyncio.CancelledError) -> bool:
        return bool(exc.args) and exc.args[0] == LATE

    def __len__(self) -> int:
        return len(self._due)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.resolution_s)
            now = loop.time()
            late = [task for task, due in self._due.items() if due <= now]
            for task in late:
                del self._due[task]
                task.cancel(LATE)

    @staticmethod
    async def stop(task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
