"""`make bench`: run every suite that exists, print the figures, write bench/results/latest.json.

Each suite is a module `bench.<name>` with `run(runs: int) -> list[Figure]`. Suites run one
at a time, each in a child process of its own session with a time budget, so a suite that
crashes or hangs is reported as failed (its servers killed with it) and the others still run,
and the whole bench stays within TOTAL_BUDGET_S (about 8 minutes on a quiet machine, 20 at most
on a loaded one).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.figures import Figure, fmt, verdict
from bench.machine import cpu_ticks, describe, steal_share

# In order; later issues add their module and nothing else.
SUITES = [
    "common_stack",
    "bus",
    "auth",
    "tasks",
    "tasks_search",
    "messaging",
    "gateway",
    "sockets10k",
]
# The whole bench stays under 20.5 minutes at the default 3 runs (tasks_search adds ~1.5,
# sockets10k ~7: 40,000 socket handshakes a run, in processes started for the run).
TOTAL_BUDGET_S = 1220.0
STEAL_WARNING = 0.05  # steal time above this share of the CPU is worth a warning
DEFAULT_RUNS = 3
SUITE_BUDGET_S = 180.0  # no single suite may eat the others' time
# Suites that need more, by name: sockets10k took 445 s at a load average of 13.
SUITE_BUDGETS = {"sockets10k": 540.0}
RESULTS = Path(__file__).parent / "results" / "latest.json"


@dataclass
class SuiteOutcome:
    name: str
    status: str  # ok | failed | skipped
    seconds: float
    detail: str = ""


def table(figures: list[Figure]) -> str:
    head = ("figure", "value", "unit", "ceiling", "ratio", "target", "")
    rows = [head] + [
        (f.name, fmt(f.value), f.unit, fmt(f.ceiling), fmt(f.ratio), f.target or "-", verdict(f))
        for f in figures
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def suite_exists(name: str) -> bool:
    return importlib.util.find_spec(f"bench.{name}") is not None


def run_child(name: str, runs: int, out: Path) -> None:
    """In the child: run one suite and write its figures as JSON."""
    module = importlib.import_module(f"bench.{name}")
    figures: list[Figure] = module.run(runs)
    from bench.deployed import spans_figure

    spans = spans_figure(name)
    if spans is not None:
        figures.append(spans)
    out.write_text(json.dumps([f.as_json() for f in figures]))


def stop_group(proc: subprocess.Popen[bytes], grace_s: float = 15.0) -> None:
    """SIGINT first, so the suite's `finally` blocks drop the databases and stop the servers
    it made; SIGKILL whatever is left after the grace."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_suite(name: str, runs: int, budget_s: float) -> tuple[SuiteOutcome, list[Figure]]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        cmd = [
            sys.executable,
            "-m",
            "bench",
            "--child",
            name,
            "--runs",
            str(runs),
            "--out",
            str(out),
        ]
        # Its own session: stopping it reaches the servers it started, and Ctrl-C reaches
        # only this runner, which then stops the suite the same way.
        proc = subprocess.Popen(cmd, start_new_session=True, cwd=Path(__file__).parent.parent)
        try:
            code = proc.wait(timeout=budget_s)
        except subprocess.TimeoutExpired:
            stop_group(proc)
            elapsed = time.monotonic() - started
            return SuiteOutcome(name, "failed", elapsed, f"over its {budget_s:.0f} s budget"), []
        except BaseException:
            stop_group(proc)
            raise
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # anything it left behind
        elapsed = time.monotonic() - started
        if code != 0 or not out.exists():
            return SuiteOutcome(name, "failed", elapsed, f"exit code {code}"), []
        figures = [Figure(**item) for item in json.loads(out.read_text())]
    return SuiteOutcome(name, "ok", elapsed, f"{len(figures)} figure(s)"), figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default="", help="figure-name prefix, e.g. common or gateway.")
    parser.add_argument(
        "--runs", type=int, default=DEFAULT_RUNS, help="runs per figure (median taken)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args.child, args.runs, args.out)
        return 0

    signal.signal(signal.SIGTERM, _interrupt)  # stop the running suite, as Ctrl-C does
    # "common" selects common_stack, "gateway.added" selects gateway: match on the first part.
    family = args.only.split(".")[0]
    chosen = [s for s in SUITES if s.startswith(family)]
    # The budgets are sized for DEFAULT_RUNS; `--runs 5` buys each suite time in proportion.
    scale = max(1.0, args.runs / DEFAULT_RUNS)
    deadline = time.monotonic() + TOTAL_BUDGET_S * scale
    outcomes: list[SuiteOutcome] = []
    figures: list[Figure] = []
    steal: dict[str, float | None] = {}
    ticks_at_start = cpu_ticks()
    for i, name in enumerate(chosen, 1):
        if not suite_exists(name):
            outcomes.append(SuiteOutcome(name, "skipped", 0.0, "no module yet"))
            print(f"==> [{i}/{len(chosen)}] {name}: skipped (bench/{name}.py not there yet)")
            continue
        budget = min(SUITE_BUDGETS.get(name, SUITE_BUDGET_S) * scale, deadline - time.monotonic())
        if budget < 10:
            outcomes.append(SuiteOutcome(name, "failed", 0.0, "no time left in the budget"))
            print(f"==> [{i}/{len(chosen)}] {name}: not run, the bench is out of time")
            continue
        print(
            f"==> [{i}/{len(chosen)}] {name} ({args.runs} runs, budget {budget:.0f} s)", flush=True
        )
        ticks_before = cpu_ticks()
        outcome, got = run_suite(name, args.runs, budget)
        steal[name] = stolen = steal_share(ticks_before, cpu_ticks())
        # A suite named in full keeps all its figures (tasks_search's are tasks.search_*).
        got = [f for f in got if f.name.startswith(args.only) or name == args.only]
        outcomes.append(outcome)
        figures.extend(got)
        print(
            f"    {name}: {outcome.status} in {outcome.seconds:.0f} s, {outcome.detail}"
            + ("" if stolen is None else f"; steal time {stolen:.0%}"),
            flush=True,
        )

    print()
    print(table(figures) if figures else "no figures")
    for f in figures:
        if f.note:
            print(f"  {f.name}: {f.note}")
    failed = [o.name for o in outcomes if o.status == "failed"]
    missed = [f.name for f in figures if verdict(f) == "MISS"]
    if failed:
        print(f"failed suites: {', '.join(failed)}")
    if missed:
        print(f"missed targets: {', '.join(missed)}")
    stolen = steal_share(ticks_at_start, cpu_ticks())
    if stolen is not None and stolen >= STEAL_WARNING:
        print(
            f"the hypervisor took {stolen:.0%} of this machine's CPU during the run (steal"
            " time): figures are less reliable than on a quiet machine; compare ratios, and"
            " rerun when it is quieter"
        )

    report = {
        "machine": describe(),
        "steal_share": {"all": stolen, **steal},
        "figures": [f.as_json() for f in figures],
        "suites": [o.__dict__ for o in outcomes],
    }
    if args.only:
        report["only"] = args.only
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 1 if failed or missed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench: interrupted; the running suite and its servers were stopped", file=sys.stderr)
        sys.exit(130)
