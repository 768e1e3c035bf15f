"""docs/performance.md as `python -m bench.report` writes it from a bench run's JSON."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

# bench/ is a top-level folder of the repository, not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.__main__ import SUITES
from bench.report import ROOT, family, main, suite_descriptions

RUN: dict[str, Any] = {
    "machine": {
        "cpu": "AMD EPYC",
        "cores": 2,
        "usable_cores": 2,
        "memory_gib": 23.5,
        "python": "3.11.7",
        "implementation": "CPython",
        "aiohttp": "3.14.5",
        "platform": "Linux-6.18-x86_64",
        "load_average": [0.42, 0.61, 0.9],
        "load_generator": "wrk",
        "date": "2026-12-07T10:00:00+00:00",
    },
    "steal_share": {"all": 0.031, "common_stack": 0.03, "gateway": 0.032},
    "figures": [
        {
            "name": "common.stack_rps_ratio",
            "value": 7012.5,
            "unit": "req/core-s",
            "ceiling": 12250.0,
            "ratio": 0.572,
            "target": ">= 0.50",
            "note": "median of 5 back-to-back pairs (pair ratios 0.55..0.60)",
        },
        {
            "name": "common.brand_new_figure",
            "value": 3.5,
            "unit": "us/req",
            "note": "a figure no suite describes yet",
        },
        {
            "name": "gateway.vs_bare_proxy_ratio",
            "value": 3013.3,
            "unit": "req/core-s",
            "ceiling": 6078.2,
            "ratio": 0.475,
            "target": ">= 0.70",
            "note": "median of 13 back-to-back pairs | with a pipe in it",
        },
        {
            "name": "gateway.spans_exported",
            "value": 11051.0,
            "unit": "spans",
            "target": "value > 0",
        },
    ],
    "suites": [
        {"name": "common_stack", "status": "ok", "seconds": 75.2, "detail": "3 figure(s)"},
        {"name": "gateway", "status": "ok", "seconds": 80.9, "detail": "3 figure(s)"},
    ],
    "only": "",
}


def sections(page: str) -> dict[str, str]:
    """Each figure's section, by figure name: from its `### name` heading to the next heading."""
    found: dict[str, str] = {}
    for chunk in re.split(r"^(?=#{2,3} )", page, flags=re.MULTILINE):
        match = re.match(r"### `([^`]+)`\n", chunk)
        if match:
            found[match.group(1)] = chunk
    return found


def row(section: str, key: str) -> str:
    match = re.search(rf"^\| {re.escape(key)} \| (.*) \|$", section, flags=re.MULTILINE)
    assert match is not None, f"no row {key!r} in:\n{section}"
    return match.group(1)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("report")
    results, out = tmp / "latest.json", tmp / "performance.md"
    results.write_text(json.dumps(RUN))
    assert main(["--results", str(results), "--out", str(out)]) == 0
    return out.read_text()


def test_every_figure_of_the_run_gets_a_section_with_one_table(page: str) -> None:
    found = sections(page)
    for figure in RUN["figures"]:
        section = found[figure["name"]]
        assert section.count("| --- | --- |") == 1, section


def test_a_figure_shows_its_median_ceiling_ratio_verdict_limits_and_note(page: str) -> None:
    stack = sections(page)["common.stack_rps_ratio"]
    assert row(stack, "latest value") == "7,012 req/core-s"
    assert row(stack, "ceiling").startswith("12,250 req/core-s: the same handler on a bare")
    assert row(stack, "ratio") == "0.572"
    assert row(stack, "target") == "`>= 0.50`: **PASS**"
    assert "socket I/O" in row(stack, "what limits it")  # the suite's own description
    assert row(stack, "note of the run") == RUN["figures"][0]["note"]


def test_a_missed_target_says_miss_and_a_pipe_in_a_note_stays_in_its_cell(page: str) -> None:
    gateway = sections(page)["gateway.vs_bare_proxy_ratio"]
    assert row(gateway, "target") == "`>= 0.70`: **MISS**"
    assert (
        row(gateway, "note of the run") == "median of 13 back-to-back pairs \\| with a pipe in it"
    )
    summary = page.split("## Summary", 1)[1].split("\n## ", 1)[0]
    assert "| `>= 0.70`" not in summary  # targets are plain text there
    assert re.search(
        r"gateway\.vs_bare_proxy_ratio.*\| 0\.475 \| >= 0\.70 \| \*\*MISS\*\* \|", summary
    )


def test_a_figure_without_a_description_still_gets_its_table_saying_so(page: str) -> None:
    new = sections(page)["common.brand_new_figure"]
    assert "no description yet" in row(new, "measures")
    assert row(new, "latest value") == "3.5 us/req"
    assert row(new, "ceiling") == "none"
    assert row(new, "target") == "no target (informational)"


def test_spans_exported_is_described_for_every_suite(page: str) -> None:
    spans = sections(page)["gateway.spans_exported"]
    assert "OTLP/HTTP" in row(spans, "measures")
    assert row(spans, "target") == "`value > 0`: **PASS**"


def test_described_figures_the_run_did_not_measure_are_listed_without_numbers(page: str) -> None:
    relay = sections(page)["bus.relay_ratio"]
    assert row(relay, "latest value") == "not measured in this run"
    assert "| target |" not in relay


def test_the_run_block_gives_the_machine(page: str) -> None:
    run = page.split("## The run", 1)[1].split("\n## ", 1)[0]
    assert row(run, "date") == "2026-12-07T10:00:00+00:00"
    assert row(run, "cpu") == "AMD EPYC, 2 cores, 23.5 GiB"
    assert row(run, "python") == "CPython 3.11.7"
    assert row(run, "aiohttp") == "3.14.5"
    assert row(run, "load average").startswith("0.42 / 0.61 / 0.90")
    assert row(run, "steal time").startswith("3.1%")
    assert "selection" not in run  # a full run


def test_sections_follow_the_suites_order(page: str) -> None:
    names = list(sections(page))
    families = [family(n) for n in names]
    assert families == sorted(families, key=[family(s) for s in SUITES].index)


def test_a_missing_results_file_is_a_clear_failure(tmp_path: Path) -> None:
    out = tmp_path / "performance.md"
    assert main(["--results", str(tmp_path / "nope.json"), "--out", str(out)]) == 1
    assert not out.exists()


def test_every_figure_a_suite_names_literally_is_described() -> None:
    described = suite_descriptions()
    for suite in SUITES:
        source = (ROOT / "bench" / f"{suite}.py").read_text()
        for name in re.findall(r'name="([a-z_]+\.[a-z0-9_.]+)"', source):
            assert name in described, f"bench/{suite}.py measures {name} but does not describe it"
        for name, about in described.items():
            assert about.measures, name
            assert about.limits, name
