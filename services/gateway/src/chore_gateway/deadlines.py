"""Request deadlines without a timer per request.

aiohttp's `sock_read` timeout arms, cancels and re-arms an event-loop timer on every read;
at the gateway's rate those timers were a measurable share of its CPU (bench/gateway.py
profile). Here a request only writes its deadline into a dict, and one sweeper task, every
`resolution_s`, cancels the tasks that are past theirs with a marker saying whose deadline
it was: the upstream's (the proxy answers 504 and counts it against the address's breaker)
or the client's (its request body stalled: 408, and no upstream is blamed). A timeout thus
fires up to `resolution_s` late, which no client can tell from a slow peer.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

LATE: Final = "gateway: upstream deadline passed"
CLIENT_LATE: Final = "gateway: client body deadline passed"


class Deadlines:
    __slots__ = ("_due", "resolution_s")

    def __init__(self, resolution_s: float = 0.05) -> None:
        self.resolution_s = resolution_s
        self._due: dict[asyncio.Task[object], tuple[float, str]] = {}

    def set(self, task: asyncio.Task[object], due: float, why: str = LATE) -> None:
        """Cancel `task` at `due` (with `why` as the marker) unless cleared or set again."""
        self._due[task] = (due, why)

    def clear(self, task: asyncio.Task[object]) -> None:
        self._due.pop(task, None)

    @staticmethod
    def is_late(exc: asyncio.CancelledError) -> bool:
        """The sweeper cancelled it: the upstream's deadline passed."""
        return bool(exc.args) and exc.args[0] == LATE

    @staticmethod
    def reason(exc: asyncio.CancelledError) -> str | None:
        """LATE or CLIENT_LATE when the sweeper cancelled it; None for any other cancel."""
        if exc.args and exc.args[0] in (LATE, CLIENT_LATE):
            return str(exc.args[0])
        return None

    def __len__(self) -> int:
        return len(self._due)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.resolution_s)
            now = loop.time()
            late = [(task, why) for task, (due, why) in self._due.items() if due <= now]
            for task, why in late:
                del self._due[task]
                task.cancel(why)

    @staticmethod
    async def stop(task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
