"""`python -m bench.report`: docs/performance.md, written from bench/results/latest.json.

One section per figure: what it measures, its latest median, the raw ceiling it is compared
to and the ratio, its target and verdict, what limits it, and the note the run left. The
texts come from each suite's `DESCRIPTIONS` (bench/<suite>.py), next to the code that
measures; the numbers only from the JSON, so the page says what the last run saw. A figure
the run has and no suite describes still gets its section (saying so); a described figure
the run did not measure (a `--only` run, a skipped suite) is listed without numbers.
`make bench` runs this after the bench.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bench.__main__ import SUITES
from bench.deployed import SPANS_DESCRIPTION, prod_tracing
from bench.figures import Description, Figure, fmt, verdict

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.json"
OUT = ROOT / "docs" / "performance.md"
SPANS_SUFFIX = ".spans_exported"


def family(name: str) -> str:
    """The prefix of a suite's figure names: `common` for common_stack, `gateway` for gateway."""
    return name.split(".", 1)[0].split("_", 1)[0]


def suite_descriptions(suites: Iterable[str] = SUITES) -> dict[str, Description]:
    """Every suite's `DESCRIPTIONS`, in suite order (a suite not written yet has none)."""
    found: dict[str, Description] = {}
    for suite in suites:
        if importlib.util.find_spec(f"bench.{suite}") is None:
            continue
        module = importlib.import_module(f"bench.{suite}")
        found.update(getattr(module, "DESCRIPTIONS", {}))
    return found


def deployed_tracing() -> str:
    """How the bench's servers trace, in the prod overlay's own words."""
    tracing = prod_tracing()
    sampler = tracing.get("OTEL_TRACES_SAMPLER", "the SDK's default sampler")
    ratio = tracing.get("OTEL_TRACES_SAMPLER_ARG")
    return f"sampler `{sampler}`" + (f", ratio {ratio}" if ratio else "")


# -- Markdown ---------------------------------------------------------------------------------


def cell(text: object) -> str:
    """Text that stays inside one table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def two_columns(rows: Iterable[tuple[str, str]]) -> list[str]:
    lines = ["| | |", "| --- | --- |"]
    lines += [f"| {key} | {cell(value)} |" for key, value in rows if value]
    return lines


def with_unit(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{fmt(value)} {unit}".strip()


def bold_miss(verdict: str) -> str:
    return "**MISS**" if verdict == "MISS" else verdict


def verdict_text(figure: Figure) -> str:
    got = verdict(figure)
    if not figure.target:
        return "no target (informational)"
    if got == "?":
        return f"`{figure.target}`: cannot tell (target unreadable or its subject missing)"
    return f"`{figure.target}`: **{got}**"


def figure_section(figure: Figure | None, name: str, about: Description | None) -> list[str]:
    """`name`'s heading and table; `figure` None when the run did not measure it."""
    rows: list[tuple[str, str]] = [
        ("measures", about.measures if about else "no description yet: add one to its"
         " suite's `DESCRIPTIONS` (bench/<suite>.py)"),
    ]  # fmt: skip
    if figure is None:
        rows.append(("latest value", "not measured in this run"))
        rows.append(("ceiling", about.ceiling if about else ""))
    else:
        rows.append(("latest value", with_unit(figure.value, figure.unit)))
        parts = [with_unit(figure.ceiling, figure.unit)] if figure.ceiling is not None else []
        parts += [about.ceiling] if about and about.ceiling else []
        rows.append(("ceiling", ": ".join(parts) or "none"))
        rows.append(("ratio", fmt(figure.ratio) if figure.ratio is not None else ""))
        rows.append(("target", verdict_text(figure)))
    rows.append(("what limits it", about.limits if about else ""))
    rows.append(("note of the run", figure.note if figure else ""))
    return [f"### `{name}`", "", *two_columns(rows), ""]


def machine_section(report: Mapping[str, Any]) -> list[str]:
    m: Mapping[str, Any] = report.get("machine", {})
    cores = m.get("cores")
    usable = m.get("usable_cores")
    cpu = f"{m.get('cpu', '?')}, {cores} cores" + (
        f" ({usable} usable)" if usable not in (None, cores) else ""
    )
    if m.get("memory_gib"):
        cpu += f", {m['memory_gib']} GiB"
    load = m.get("load_average")
    steal = report.get("steal_share", {}).get("all")
    suites = "; ".join(
        f"{s['name']}: {s['status']}"
        + (f" in {s['seconds']:.0f} s" if s.get("seconds") else "")
        + (f" ({s['detail']})" if s.get("detail") else "")
        for s in report.get("suites", [])
    )
    rows = [
        ("date", m.get("date", "?")),
        ("cpu", cpu),
        ("python", f"{m.get('implementation', '')} {m.get('python', '?')}".strip()),
        ("aiohttp", m.get("aiohttp") or "?"),
        ("platform", m.get("platform", "")),
        (
            "load average",
            " / ".join(f"{x:.2f}" for x in load) + " (1, 5, 15 min)" if load else "unknown",
        ),
        (
            "steal time",
            "unknown" if steal is None else f"{steal:.1%} of the machine's CPU during the run",
        ),
        ("load generator", m.get("load_generator", "")),
        ("suites", suites),
    ]
    if report.get("only"):
        rows.append(
            (
                "selection",
                f"`--only {report['only']}`: a partial run; figures of the suites it left out"
                " are listed below without numbers",
            )
        )
    return ["## The run", "", *two_columns(rows), ""]


def summary_section(figures: list[Figure]) -> list[str]:
    lines = [
        "## Summary",
        "",
        "| figure | value | ceiling | ratio | target | |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for f in figures:
        lines.append(
            f"| [`{f.name}`](#{anchor(f.name)}) | {cell(with_unit(f.value, f.unit))}"
            f" | {cell(with_unit(f.ceiling, f.unit))} | {fmt(f.ratio)} | {cell(f.target or '-')}"
            f" | {bold_miss(verdict(f))} |"
        )
    return [*lines, ""]


def anchor(name: str) -> str:
    """GitHub's anchor for a heading `### \\`name\\``: lower case, dots and backticks dropped."""
    return "".join(c for c in name.lower() if c.isalnum() or c in "-_ ").replace(" ", "-")


def intro() -> list[str]:
    return [
        "# Performance",
        "",
        "<!-- Written by `python -m bench.report` from bench/results/latest.json; do not edit."
        " The texts are each suite's DESCRIPTIONS in bench/<suite>.py. -->",
        "",
        "What `make bench` measured last, one section per figure: what the figure measures,"
        " its latest value (a median over runs), the raw ceiling it is compared to, its"
        " target, and what limits it. Why the platform is built as it is belongs to the ADRs"
        " ([docs/adr/](adr/)); this page holds the numbers.",
        "",
        "How the figures are measured ([bench/README.md](../bench/README.md) has the details):",
        "",
        "- **Side by side with a raw ceiling in the same run**: a bare aiohttp handler, raw"
        " database transactions, raw JetStream publishes, a raw signature check. A ratio"
        " then means the same on a laptop and on CI, where an absolute rate would not.",
        "- **Medians over runs** (3 by default, `--runs 5` for steadier ones): a figure's"
        " value is the median its suite took (a count, like `spans_exported`, is a total);"
        " a ratio is the median of per-run ratios of back-to-back pairs, so a burst of"
        " other work on the machine moves both halves of a pair.",
        "- **Per second of server CPU** (`req/core-s`, read from /proc) where the rate would"
        " otherwise measure the neighbours: a shared machine's wall-clock rates swing"
        " tenfold.",
        "- **The deployed configuration**: every server runs with the prod overlay's tracing"
        f" ({deployed_tracing()}), exporting its spans over OTLP/HTTP to a receiver"
        " the bench starts; each suite's `<suite>.spans_exported` counts what arrived, so a"
        " broken export fails the bench (bench/deployed.py).",
        "- Servers pinned to core 0, the load generator to the last core; everything on 127.0.0.1.",
        "",
        "To reproduce: `make bench` (every suite, then this page), or one suite:"
        " `.venv/bin/python -m bench --only gateway --runs 5`, then"
        " `.venv/bin/python -m bench.report`.",
        "",
    ]


def render(report: Mapping[str, Any], descriptions: Mapping[str, Description]) -> str:
    """The whole page for one `latest.json` and the suites' descriptions."""
    figures = [Figure(**item) for item in report.get("figures", [])]
    measured = {f.name: f for f in figures}
    # Suite order first (as described, then what the run had beyond that), other families last.
    order = list(dict.fromkeys(family(s) for s in SUITES))
    names = list(descriptions) + [f.name for f in figures if f.name not in descriptions]
    names = sorted(
        dict.fromkeys(names),
        key=lambda n: order.index(family(n)) if family(n) in order else len(order),
    )
    lines = intro() + machine_section(report) + summary_section(figures)
    current = ""
    for name in names:
        if family(name) != current:
            current = family(name)
            suite = next((s for s in SUITES if family(s) == current), None)
            lines += [f"## {current}" + (f" (bench/{suite}.py)" if suite else ""), ""]
        about = descriptions.get(name)
        if about is None and name.endswith(SPANS_SUFFIX):
            about = SPANS_DESCRIPTION
        lines += figure_section(measured.get(name), name, about)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS, help="the bench's JSON")
    parser.add_argument("--out", type=Path, default=OUT, help="the page to write")
    args = parser.parse_args(argv)
    if not args.results.exists():
        print(f"bench.report: {args.results} does not exist; run `make bench` first")
        return 1
    report = json.loads(args.results.read_text())
    args.out.write_text(render(report, suite_descriptions()))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
