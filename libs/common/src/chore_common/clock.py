"""The one wall clock: use cases take `now` as an argument, the edges (handlers, jobs,
consumers) read it here, so tests pass a fixed moment instead of patching time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current moment, timezone-aware in UTC (a naive datetime never reaches storage)."""
    return datetime.now(UTC)
