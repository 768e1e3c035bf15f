"""The alert rules, proven by promtool: they parse (`promtool check rules`), the scrape config
that loads them parses (`promtool check config`), and every alert has a series that fires it
and one that stays quiet (`promtool test rules`, deploy/k8s/base/prometheus/tests/). Plus what
promtool cannot see: each alert has a runbook section, the StatefulSet mounts every rule file,
the PrometheusRule for the operator holds the same groups, and every series a rule reads is
exported by the services' code (or is Prometheus's, kube-state-metrics', or a listed proposal).

Skipped, saying so, only where promtool is not installed (`apt-get install prometheus`; .ci/run
does it). Regenerate the operator's copy after editing a rule file:
`.venv/bin/python tests/deploy/test_alert_rules.py`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "k8s" / "base" / "prometheus"
RULES = sorted((PROM / "rules").glob("*.yaml"))
RULE_TESTS = sorted((PROM / "tests").glob("*.test.yaml"))
OPERATOR_RULE = PROM / "operator" / "prometheusrule.yaml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"

# Series the rules read that no service exports: Prometheus's own, kube-state-metrics' (the
# cluster's), and JetStream's storage per server, which needs the server's monitoring port
# and is still only proposed (docs/runbooks.md lists them all).
EXTERNAL = frozenset({"up", "kube_pod_container_status_restarts_total", "kube_pod_status_ready"})
PROPOSED = frozenset({"jetstream_storage_used_bytes", "jetstream_storage_limit_bytes"})

_DEFINITION = re.compile(
    r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"", re.S
)
_SUFFIXES = {
    "Counter": ("_total", "_created"),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_count", "_sum", "_created"),
    "Summary": ("", "_count", "_sum", "_created"),
}
# PromQL words that look like names: functions are followed by "(", these are not always.
_KEYWORDS = frozenset({
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan",
})  # fmt: skip


def promtool() -> str:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.skip(
            "promtool is not installed (Debian: apt-get install prometheus; .ci/run installs it)"
        )
    return exe


def run_promtool(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *(str(a) for a in args)],
        cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rule_groups() -> list[dict[str, Any]]:
    return [group for path in RULES for group in load(path)["groups"]]


def alerts() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in rule_groups() for r in g["rules"] if "alert" in r}


def recorded_names() -> set[str]:
    return {r["record"] for g in rule_groups() for r in g["rules"] if "record" in r}


def exported_names() -> set[str]:
    """Every sample name the services' code defines with prometheus_client, read from the
    definitions in services/*/src and libs/*/src (wherever a module lives)."""
    names: set[str] = set()
    for path in [*ROOT.glob("services/*/src/**/*.py"), *ROOT.glob("libs/*/src/**/*.py")]:
        for kind, name in _DEFINITION.findall(path.read_text()):
            base = name.removesuffix("_total") if kind == "Counter" else name
            names.update(base + suffix for suffix in _SUFFIXES[kind])
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects. Strings, label matchers, ranges and the
    label lists of by/without/on/ignoring/group_* are removed first; what is left and is not
    a function call, a keyword or a number is a name. The expression must parse (promtool
    checks that separately), so this does not have to reject bad syntax."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text, flags=re.I
    )
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in _KEYWORDS or re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names


def operator_rule() -> dict[str, Any]:
    """The PrometheusRule holding the same groups as the rule files."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "chore-platform",
            "labels": {
                "app.kubernetes.io/name": "prometheus",
                "app.kubernetes.io/part-of": "chore-platform",
                "role": "alert-rules",
            },
        },
        "spec": {"groups": rule_groups()},
    }


def _block_strings(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def write_operator_rule() -> None:
    dumper = type("BlockDumper", (yaml.SafeDumper,), {})
    dumper.add_representer(str, _block_strings)
    body = yaml.dump(operator_rule(), Dumper=dumper, sort_keys=False, width=4096)
    header = (
        "# Generated from ../rules/*.yaml by `.venv/bin/python tests/deploy/test_alert_rules.py`\n"
        "# (tests/deploy/test_alert_rules.py checks they agree): edit those, not this. For the\n"
        "# Prometheus Operator: kubectl apply -n <ns> -k deploy/k8s/base/prometheus/operator\n"
    )
    OPERATOR_RULE.write_text(header + body)


# -- promtool ----------------------------------------------------------------------------


def test_rule_files_parse() -> None:
    result = run_promtool("check", "rules", *RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert RULES, "no rule files"


NO_KUBERNETES_SD = "field kubernetes_sd_configs not found"


def test_scrape_config_parses_and_loads_the_rules(tmp_path: Path) -> None:
    """`promtool check config`. Debian builds Prometheus without Kubernetes service discovery
    (its promtool rejects `kubernetes_sd_configs`); there the check runs on a copy whose
    discovery is a static target, everything else (relabelling, rule files) as shipped."""
    config = PROM / "prometheus.yml"
    result = run_promtool("check", "config", config)
    if NO_KUBERNETES_SD in result.stdout + result.stderr:
        parsed = load(config)
        for job in parsed["scrape_configs"]:
            assert job.pop("kubernetes_sd_configs") == [
                {"role": "pod", "namespaces": {"own_namespace": True}}
            ]
            job["static_configs"] = [{"targets": ["127.0.0.1:8082"]}]
        shutil.copytree(PROM / "rules", tmp_path / "rules")
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump(parsed, sort_keys=False))
        result = run_promtool("check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in RULES:  # rule_files: [rules/*.yaml] reached every file
        assert path.name in result.stdout, result.stdout


def test_compose_prometheus_loads_the_same_rules(tmp_path: Path) -> None:
    """docker-compose.yml's Prometheus, its files laid out as the compose file mounts them
    (read from its volumes), passes `promtool check config` with every rule file loaded."""
    service = load(ROOT / "docker-compose.yml")["services"]["prometheus"]
    [config_flag] = [a for a in service["command"] if a.startswith("--config.file=")]
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("./"):  # a bind mount (the others are named volumes)
            copy = shutil.copytree if (ROOT / source).is_dir() else shutil.copy
            (tmp_path / target.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            copy(ROOT / source, tmp_path / target.lstrip("/"))
    config = tmp_path / config_flag.removeprefix("--config.file=").lstrip("/")
    result = run_promtool("check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in RULES:
        assert path.name in result.stdout, result.stdout
    jobs = {job["job_name"] for job in load(config)["scrape_configs"]}
    assert jobs == {"chore-pods"}  # what the TargetDown alert watches


def test_every_alert_passes_its_promtool_tests() -> None:
    result = run_promtool("test", "rules", *RULE_TESTS, cwd=PROM / "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_tests_catch_a_broken_rule(tmp_path: Path) -> None:
    """The tests fail when a threshold moves: they assert something."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    broken = (
        (PROM / "rules" / "bus.yaml")
        .read_text()
        .replace("(outbox_oldest_age_seconds) > 120", "(outbox_oldest_age_seconds) > 1200")
    )
    assert broken != (PROM / "rules" / "bus.yaml").read_text()
    (tmp_path / "rules" / "bus.yaml").write_text(broken)
    test = tmp_path / "tests" / "bus.test.yaml"
    test.write_text((PROM / "tests" / "bus.test.yaml").read_text())
    result = run_promtool("test", "rules", test, cwd=tmp_path / "tests")
    assert result.returncode != 0
    assert "OutboxStuck" in result.stdout + result.stderr


# -- what promtool does not check --------------------------------------------------------


def _series_labels(series: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', series))


def _cases() -> dict[str, tuple[bool, bool]]:
    """Per alert name: (a test expects it to fire, a test shows it quiet). Quiet is a case
    expecting no alert, or, in a group where it fires, an input series that none of the
    expected alerts covers (its labels are not a superset of any alert's own labels)."""
    static = {name: set(rule.get("labels", {})) for name, rule in alerts().items()}
    seen: dict[str, tuple[bool, bool]] = {}
    for path in RULE_TESTS:
        for group in load(path)["tests"]:
            series = [_series_labels(s["series"]) for s in group.get("input_series", [])]
            for case in group.get("alert_rule_test", []):
                name, expected = case["alertname"], case.get("exp_alerts") or []
                fires, quiet = seen.get(name, (False, False))
                own = [
                    {k: v for k, v in e.get("exp_labels", {}).items() if k not in static[name]}
                    for e in expected
                ]
                untouched = any(
                    not any(labels.items() >= o.items() for o in own) for labels in series
                )
                seen[name] = (fires or bool(expected), quiet or not expected or untouched)
    return seen


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    cases = _cases()
    missing = [
        f"{name}: {'no firing case' if not cases.get(name, (0, 0))[0] else 'no quiet case'}"
        for name in alerts()
        if cases.get(name) != (True, True)
    ]
    assert not missing, missing


def test_every_alert_has_a_runbook_section_severity_and_summary() -> None:
    headings = set(re.findall(r"^### (\w+)$", RUNBOOKS.read_text(), flags=re.M))
    bad = []
    for name, rule in alerts().items():
        if rule.get("annotations", {}).get("runbook_url") != f"docs/runbooks.md#{name.lower()}":
            bad.append(f"{name}: runbook_url is not docs/runbooks.md#{name.lower()}")
        if name not in headings:
            bad.append(f"{name}: no '### {name}' section in docs/runbooks.md")
        if rule.get("labels", {}).get("severity") not in {"page", "ticket", "warning"}:
            bad.append(f"{name}: severity is not page, ticket or warning")
        if not {"summary", "description"} <= set(rule.get("annotations", {})):
            bad.append(f"{name}: needs a summary and a description")
    assert not bad, bad


def test_rules_read_only_series_that_exist_or_are_listed() -> None:
    known = exported_names() | recorded_names() | EXTERNAL | PROPOSED
    unknown = {
        f"{rule.get('alert') or rule.get('record')}: {name}"
        for group in rule_groups()
        for rule in group["rules"]
        for name in metric_names(rule["expr"])
        if name not in known
    }
    assert not unknown, sorted(unknown)
    runbooks = RUNBOOKS.read_text()
    assert not [n for n in EXTERNAL | PROPOSED if f"`{n}`" not in runbooks], "list them"


def test_metric_names_sees_selectors_and_nothing_else() -> None:
    expr = (
        'max by (stream, consumer) (consumer_pending{a="b"}) > 0 unless on (stream, consumer) '
        "sum(rate(events_consumed_total[10m] offset 5m)) > 0 or histogram_quantile(0.99, "
        "sum by (le) (rate(x_bucket[5m]))) / ignoring (le) group_left up and svc:rec:ratio1h"
    )
    assert metric_names(expr) == {
        "consumer_pending", "events_consumed_total", "x_bucket", "up", "svc:rec:ratio1h"
    }  # fmt: skip


def test_prometheus_mounts_every_rule_file() -> None:
    generator = next(
        g for g in load(PROM / "kustomization.yaml")["configMapGenerator"]
        if g["name"] == "prometheus-rules"
    )  # fmt: skip
    assert sorted(generator["files"]) == sorted(f"rules/{p.name}" for p in RULES)
    docs = list(yaml.safe_load_all((PROM / "prometheus.yaml").read_text()))
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    volume = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")
    projected = {
        item["key"]: item["path"]
        for source in volume["projected"]["sources"]
        if source["configMap"]["name"] == "prometheus-rules"
        for item in source["configMap"]["items"]
    }
    assert projected == {p.name: f"rules/{p.name}" for p in RULES}
    assert load(PROM / "prometheus.yml")["rule_files"] == ["rules/*.yaml"]


def test_the_operator_rule_holds_the_same_groups() -> None:
    assert load(OPERATOR_RULE) == operator_rule(), (
        "deploy/k8s/base/prometheus/operator/prometheusrule.yaml is stale: "
        "run .venv/bin/python tests/deploy/test_alert_rules.py"
    )
    kustomization = load(OPERATOR_RULE.parent / "kustomization.yaml")
    assert kustomization["resources"] == [OPERATOR_RULE.name]


if __name__ == "__main__":
    write_operator_rule()
    print(f"wrote {OPERATOR_RULE.relative_to(ROOT)}")
