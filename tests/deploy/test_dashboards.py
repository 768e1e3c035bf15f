"""The Grafana dashboards (deploy/k8s/base/grafana/dashboards/*.json): every panel's query
parses as PromQL (`promtool check rules` on a rule file holding each query as a recording
rule) and names only metrics that exist: the services' metric definitions in the code, the
alert rules' recorded series, and, in the slow test, what a running platform's replicas really
answer on /metrics (the platform as `make run` starts it, via tests/system/helpers.py), which
the alert rules are held to as well.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
import yaml

from .test_alert_rules import (
    EXTERNAL,
    PROPOSED,
    exported_names,
    metric_names,
    recorded_names,
    rule_groups,
    run_promtool,
)

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "k8s" / "base" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
SERVICES = ("auth", "tasks", "messaging", "gateway")
# Grafana's built-in variables, as the data source would receive them.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


def queries() -> list[tuple[str, str]]:
    """(dashboard/panel/refId, PromQL with Grafana's variables filled in) for every target."""
    found = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"]
                for variable, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(variable, value)
                found.append((f"{board['uid']}/{panel['id']}/{target['refId']}", expr))
    return found


def test_a_dashboard_per_service_provisioned_by_the_manifests() -> None:
    assert [p.stem for p in DASHBOARDS] == sorted(SERVICES)
    generator = yaml.safe_load((GRAFANA / "kustomization.yaml").read_text())
    (config_map,) = generator["configMapGenerator"]
    assert sorted(config_map["files"]) == sorted(f"dashboards/{p.name}" for p in DASHBOARDS)
    assert config_map["options"]["labels"]["grafana_dashboard"] == "1"
    base = yaml.safe_load((GRAFANA.parent / "kustomization.yaml").read_text())
    assert "grafana" in base["resources"]
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)


def test_every_dashboard_shows_red_and_its_own_parts() -> None:
    """Rate, errors and duration on each; the bus where a service has an outbox or a
    consumer; sockets for messaging and the gateway."""
    wanted = {
        "auth": ("http_requests_total", "http_request_duration_seconds_bucket", "outbox_backlog"),
        "tasks": ("http_requests_total", "http_request_duration_seconds_bucket", "outbox_backlog"),
        "messaging": (
            "http_requests_total", "http_request_duration_seconds_bucket", "outbox_backlog",
            "consumer_pending", "events_consumed_total", "messaging_websockets_open",
        ),
        "gateway": (
            "http_requests_total", "http_request_duration_seconds_bucket",
            "gateway_upstream_up", "gateway_breaker_state",
        ),
    }  # fmt: skip
    for service, names in wanted.items():
        uid = f"chore-{service}"
        used = set().union(*(metric_names(e) for where, e in queries() if where.startswith(uid)))
        assert set(names) <= used, f"{service}: missing {set(names) - used}"


def test_every_query_parses(tmp_path: Path) -> None:
    rules = [
        {"record": "dashboard:" + re.sub(r"[^a-zA-Z0-9_]", "_", where), "expr": expr}
        for where, expr in queries()
    ]
    path = tmp_path / "dashboards.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = run_promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout


def test_a_query_that_does_not_parse_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "bad.rules.yaml"
    bad = {"record": "dashboard:bad", "expr": "sum by (route (rate(http_requests_total[1m]))"}
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": [bad]}]}))
    assert run_promtool("check", "rules", path).returncode != 0


def _unknown(known: set[str]) -> list[str]:
    return sorted(
        f"{where}: {name}"
        for where, expr in queries()
        for name in metric_names(expr)
        if name not in known
    )


def test_every_query_names_metrics_the_code_defines() -> None:
    assert not _unknown(exported_names() | recorded_names())


# -- against a running platform ----------------------------------------------------------


def _scraped_names(url: str) -> set[str]:
    """Sample names a /metrics answer declares (# TYPE, which a family without samples has
    too) or carries."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (our own replica)
        text = response.read().decode()
    names: set[str] = set()
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum")}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            base = name.removesuffix("_total")
            names.update(base + s for s in suffixes.get(kind, ("",)))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


@pytest.mark.system
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_query_names_metrics_a_running_platform_exports(
    tmp_path: Path, db_backend: str
) -> None:
    from system.helpers import launch_platform  # tests/ is on sys.path (rootdir-relative packages)

    with launch_platform(tmp_path / "var", db_backend, 1) as platform:
        urls = [
            f"{base.rstrip('/')}/metrics"
            for service in ("auth", "tasks", "messaging")
            for base in platform.replicas(service)
        ]
        urls.append(platform.metrics_url())
        scraped = set().union(*(_scraped_names(url) for url in urls))
    assert not _unknown(scraped | recorded_names()), f"scraped {sorted(scraped)}"
    # The alert rules too: what they read is scraped, recorded, or listed as not the services'.
    rules_read = {n for g in rule_groups() for r in g["rules"] for n in metric_names(r["expr"])}
    assert rules_read - scraped - recorded_names() == EXTERNAL | PROPOSED
