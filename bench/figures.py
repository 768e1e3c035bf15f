"""One figure of `make bench`: a median over several runs, next to the raw ceiling it is
compared to, measured in the same run (so the ratio is honest on whatever machine runs it)."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    name: str  # stable across runs, e.g. "common.stack_rps_ratio"
    value: float
    unit: str
    ceiling: float | None = None  # the raw figure `value` is compared to
    ratio: float | None = None  # value / ceiling (or ceiling / value for latencies), as named
    target: str | None = None  # e.g. ">= 0.60", shown next to the figure
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and v != ""}


def median(samples: list[float]) -> float:
    return statistics.median(samples)
