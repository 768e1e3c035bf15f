"""Request deadlines without a timer per request.

aiohttp's `sock_read` timeout arms, cancels and re-arms an event-loop timer on every read;
at the gateway's rate those timers were a measurable share of its CPU (bench/gateway.py
profile). Here a block of code runs under a `Deadline`:

```python
async with deadlines.watch() as deadline:
    deadline.upstream(loop.time() + timeout_s)  # or .client(...) while the client sends
    ...
```

which raises `UpstreamLate` (the proxy answers 504 and counts it against the address's
breaker) or `ClientLate` (the request body stalled: 408, and no upstream is blamed) when the
block runs past it. Moving a deadline only writes it into a dict; one sweeper task, every
`resolution_s`, expires the blocks that are past theirs. Each block is an `asyncio.timeout`
that is never armed: the sweeper moves an overdue one to now, and asyncio interrupts the
block and turns its cancellation into a TimeoutError as usual. A deadline thus fires up to
`resolution_s` late, which no client can tell from a slow peer.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType


class DeadlineExceeded(TimeoutError):
    """A block ran past its `Deadline`."""


class UpstreamLate(DeadlineExceeded):
    """The upstream's time ran out."""


class ClientLate(DeadlineExceeded):
    """The client's time ran out: its request body stopped coming."""


class Deadline:
    """One block's deadline; `Deadlines.watch()` makes it (see the module docstring)."""

    __slots__ = ("_due", "_open", "_timeout", "late")

    def __init__(self, due: dict[Deadline, float]) -> None:
        self._due = due  # the sweeper's
        self._timeout = asyncio.timeout_at(None)  # never armed: the sweeper expires it
        self._open = False  # entered, and neither left nor expired: it may still move
        self.late: type[DeadlineExceeded] = UpstreamLate  # whose time runs

    def upstream(self, due: float) -> None:
        """From now on the upstream's time runs, until `due` (loop time)."""
        if self._open:
            self.late = UpstreamLate
            self._due[self] = due

    def client(self, due: float) -> None:
        """From now on the client's time runs, until `due` (loop time)."""
        if self._open:
            self.late = ClientLate
            self._due[self] = due

    def pause(self) -> None:
        """No time runs until it is moved again (a slow reader is nobody's fault here)."""
        self._due.pop(self, None)

    def expire(self, now: float) -> None:
        """The sweeper's: interrupt the block, as the side whose time ran when it passed."""
        self._open = False
        self._timeout.reschedule(now)

    async def __aenter__(self) -> Deadline:
        await self._timeout.__aenter__()
        self._open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        self._due.pop(self, None)
        try:
            await self._timeout.__aexit__(exc_type, exc, tb)
        except TimeoutError:
            raise self.late() from None


class Deadlines:
    """The deadlines of one event loop, and the sweeper that expires them."""

    __slots__ = ("_due", "resolution_s")

    def __init__(self, resolution_s: float = 0.05) -> None:
        self.resolution_s = resolution_s
        self._due: dict[Deadline, float] = {}

    def watch(self) -> Deadline:
        """A deadline for an `async with` block; it runs once moved (`upstream`, `client`)."""
        return Deadline(self._due)

    def __len__(self) -> int:
        return len(self._due)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.resolution_s)
            now = loop.time()
            late = [deadline for deadline, due in self._due.items() if due <= now]
            for deadline in late:
                del self._due[deadline]
                deadline.expire(now)

    @staticmethod
    async def stop(task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
