"""What `make bench` reports about the machine next to its figures."""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ is a top-level folder of the repository, not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.machine import cpu_ticks, steal_share


def test_steal_share_is_the_hypervisors_part_of_the_cpu_time_between_two_readings() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice
    before = [100, 0, 50, 800, 0, 0, 10, 40, 0, 0]
    after = [400, 0, 150, 1100, 0, 0, 30, 190, 0, 0]
    # spent: 300 + 100 + 300 + 20 + 150 = 870, of which 150 stolen
    assert steal_share(before, after) == 150 / 870


def test_steal_share_is_unknown_without_two_readings_or_without_time_passing() -> None:
    now = [1, 2, 3, 4, 5, 6, 7, 8]
    assert steal_share(None, now) is None
    assert steal_share(now, [1, 2, 3]) is None
    assert steal_share(now, now) is None


def test_this_machine_reports_cpu_ticks_with_a_steal_column() -> None:
    ticks = cpu_ticks()
    assert ticks is not None
    assert len(ticks) >= 8
