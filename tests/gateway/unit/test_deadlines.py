from __future__ import annotations

import asyncio

import pytest

from chore_gateway.deadlines import CLIENT_LATE, LATE, Deadlines


async def test_a_late_task_is_cancelled_with_the_marker_and_others_are_left_alone() -> None:
    deadlines = Deadlines(resolution_s=0.01)
    sweeper = asyncio.create_task(deadlines.run())
    loop = asyncio.get_running_loop()

    async def call(wait_s: float, budget_s: float) -> str:
        task = asyncio.current_task()
        assert task is not None
        deadlines.set(task, loop.time() + budget_s)
        try:
            await asyncio.sleep(wait_s)
        except asyncio.CancelledError as exc:
            if not Deadlines.is_late(exc):
                raise
            task.uncancel()
            return "late"
        finally:
            deadlines.clear(task)
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


async def test_the_marker_says_whose_deadline_passed() -> None:
    deadlines = Deadlines(resolution_s=0.01)
    sweeper = asyncio.create_task(deadlines.run())
    loop = asyncio.get_running_loop()

    async def wait(why: str) -> str | None:
        task = asyncio.current_task()
        assert task is not None
        deadlines.set(task, loop.time() + 0.02, why)
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError as exc:
            task.uncancel()
            return Deadlines.reason(exc)
        return None

    try:
        assert await asyncio.gather(wait(LATE), wait(CLIENT_LATE)) == [LATE, CLIENT_LATE]
    finally:
        await Deadlines.stop(sweeper)
