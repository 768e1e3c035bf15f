"""py-spy a bench server while load runs against it, and count samples per function.

Shared by the suites' `profile` commands (`python -m bench.common_stack profile`, ...).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.loadgen import measure_rps


@dataclass
class Samples:
    total: int
    own: Counter[str]  # self time: the frame on top of the stack
    within: Counter[str]  # inclusive time: anywhere in the stack


def sample_under_load(pid: int, url: str, *, connections: int, seconds: float) -> Samples:
    """Load `url` from another thread while py-spy samples process `pid` for `seconds`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "samples.txt"
        load = threading.Thread(
            target=measure_rps,
            args=(url,),
            kwargs={"connections": connections, "duration_s": seconds + 3, "warmup_s": 0},
        )
        load.start()
        time.sleep(1.0)
        spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
        subprocess.run(
            [spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "500",
             "-f", "raw", "-o", str(out)],
            check=True, capture_output=True,
        )  # fmt: skip
        load.join()
        samples = Samples(0, Counter(), Counter())
        for line in out.read_text().splitlines():
            frames_text, _, count = line.rpartition(" ")
            n = int(count)
            samples.total += n
            frames = [re.sub(r":\d+\)", ")", f) for f in frames_text.split(";")]
            samples.own[frames[-1]] += n
            for frame in set(frames):
                samples.within[frame] += n
    return samples
