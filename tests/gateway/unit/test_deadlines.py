from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from chore_gateway.adapters.deadlines import (
    ClientLate,
    Deadline,
    DeadlineExceeded,
    Deadlines,
    UpstreamLate,
)


async def test_a_late_block_raises_and_others_are_left_alone() -> None:
    deadlines = Deadlines(resolution_s=0.01)
    sweeper = asyncio.create_task(deadlines.run())
    loop = asyncio.get_running_loop()

    async def call(wait_s: float, budget_s: float) -> str:
        try:
            async with deadlines.watch() as deadline:
                deadline.upstream(loop.time() + budget_s)
                await asyncio.sleep(wait_s)
        except UpstreamLate:
            return "late"
        return "in time"

    try:
        results = await asyncio.gather(call(0.2, 0.05), call(0.02, 0.5))
        assert results == ["late", "in time"]
        assert len(deadlines) == 0

        # A cancellation that is not the sweeper's passes through untouched.
        other = asyncio.create_task(call(1.0, 5.0))
        await asyncio.sleep(0.02)
        other.cancel()
        with pytest.raises(asyncio.CancelledError):
            await other
    finally:
        await Deadlines.stop(sweeper)


async def test_the_exception_says_whose_deadline_passed() -> None:
    deadlines = Deadlines(resolution_s=0.01)
    sweeper = asyncio.create_task(deadlines.run())
    loop = asyncio.get_running_loop()

    async def wait(move: Callable[[Deadline, float], None]) -> type[DeadlineExceeded] | None:
        try:
            async with deadlines.watch() as deadline:
                move(deadline, loop.time() + 0.02)
                await asyncio.sleep(1)
        except DeadlineExceeded as exc:
            return type(exc)
        return None

    try:
        results = await asyncio.gather(wait(Deadline.upstream), wait(Deadline.client))
        assert results == [UpstreamLate, ClientLate]
    finally:
        await Deadlines.stop(sweeper)


async def test_a_task_runs_on_normally_after_its_deadline_passed() -> None:
    deadlines = Deadlines(resolution_s=0.01)
    sweeper = asyncio.create_task(deadlines.run())
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    async def late() -> None:
        async with deadlines.watch() as deadline:
            deadline.client(loop.time() + 0.02)
            await asyncio.sleep(1)

    async def paused() -> None:
        async with deadlines.watch() as deadline:
            deadline.upstream(loop.time() + 0.02)
            deadline.pause()  # paused: never due
            await asyncio.sleep(0.05)

    try:
        with pytest.raises(ClientLate):
            await late()
        assert task.cancelling() == 0
        await asyncio.sleep(0.05)  # nothing is left pending against this task
        await paused()
        assert len(deadlines) == 0
    finally:
        await Deadlines.stop(sweeper)


async def test_whose_deadline_it_was_is_kept_once_it_passed() -> None:
    """A streamed upload moves the deadline from aiohttp's writer task: once the sweeper
    expired it, a later move neither revives it nor changes whose it was."""
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()

    async def moved_too_late() -> None:
        async with deadlines.watch() as deadline:
            deadline.client(loop.time())
            deadline.expire(loop.time())  # what the sweeper does with a late one
            deadline.upstream(loop.time() + 5)
            await asyncio.sleep(1)

    with pytest.raises(ClientLate):
        await moved_too_late()
    assert len(deadlines) == 0
