"""One figure of `make bench`: a median over several runs, next to the raw ceiling it is
compared to, measured in the same run (so the ratio is honest on whatever machine runs it).

Each suite also describes its figures (`DESCRIPTIONS`, a `Description` per name): what the
figure measures, what its ceiling is, and what limits it. `python -m bench.report` puts those
texts next to the latest medians in docs/performance.md, so they live beside the code that
measures, and change with it.
"""

from __future__ import annotations

import operator
import re
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple


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


class Description(NamedTuple):
    """What a figure is, for people reading docs/performance.md: short, factual, current."""

    measures: str  # what is measured, how, and in what configuration
    ceiling: str  # the raw figure it is compared to ("" when it has none)
    limits: str  # what sets its value today, as far as it has been measured


def median(samples: list[float]) -> float:
    return statistics.median(samples)


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_TARGET = re.compile(r"^\s*(value|ratio)?\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")


def verdict(figure: Figure) -> str:
    """PASS/MISS against the figure's target; '' when it has none, '?' when unreadable.

    A target may name what it bounds ("ratio >= 0.6", "value <= 1"); unnamed, it bounds the
    ratio for figures named *_ratio (and having one), else the value.
    """
    if not figure.target:
        return ""
    match = _TARGET.match(figure.target)
    if match is None:
        return "?"
    subject, op, bound = match.groups()
    if subject is None:
        subject = "ratio" if figure.name.endswith("ratio") and figure.ratio is not None else "value"
    measured = figure.ratio if subject == "ratio" else figure.value
    if measured is None:
        return "?"
    return "PASS" if _OPS[op](measured, float(bound)) else "MISS"


def fmt(x: float | None) -> str:
    """A figure's number as the tables show it: thousands separated, three digits else."""
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"
