"""How `make run` lays the platform out: ports, replicas, and what each service is told."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_tool() -> ModuleType:
    # tools/stack.py is a script, not a module of a package: load it by path.
    spec = importlib.util.spec_from_file_location("chore_stack_tool", ROOT / "tools" / "stack.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


@pytest.fixture
def all_ports_free(monkeypatch: pytest.MonkeyPatch) -> None:
    # The plan is pure arithmetic over ports; whatever else runs on this machine is not its input.
    monkeypatch.setattr(tool, "port_is_free", lambda port: True)
    for name in (
        "NATS_PORT",
        "AUTH_PORT",
        "TASKS_PORT",
        "MESSAGING_PORT",
        "GATEWAY_PORT",
        "SMTP_PORT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ACCESS_LOG_PROBES", raising=False)


@pytest.mark.usefixtures("all_ports_free")
def test_replicas_get_the_service_port_then_consecutive_ports_above_all_of_them(
    tmp_path: Path,
) -> None:
    plan = tool.make_plan(list(tool.SERVICES), 2, "sqlite", tmp_path, any_port=False)
    ports = {name: [i.port for i in insts] for name, insts in plan.instances.items()}
    assert ports == {
        "auth": [8081, 8084],
        "tasks": [8082, 8085],
        "messaging": [8083, 8086],
        "gateway": [8080],  # the one front door is never replicated
    }
    names = [i.name for insts in plan.instances.values() for i in insts]
    assert names == [
        "auth-1",
        "auth-2",
        "tasks-1",
        "tasks-2",
        "messaging-1",
        "messaging-2",
        "gateway",
    ]


@pytest.mark.usefixtures("all_ports_free")
def test_replica_ports_stay_put_when_a_service_lands_later(tmp_path: Path) -> None:
    only_auth = [s for s in tool.SERVICES if s.name == "auth"]
    plan = tool.make_plan(only_auth, 2, "sqlite", tmp_path, any_port=False)
    assert [i.port for i in plan.instances["auth"]] == [8081, 8084]


@pytest.mark.usefixtures("all_ports_free")
def test_gateway_port_is_taken_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_PORT", "9090")
    plan = tool.make_plan(list(tool.SERVICES), 1, "sqlite", tmp_path, any_port=False)
    assert plan.instances["gateway"][0].url == "http://127.0.0.1:9090"


@pytest.mark.usefixtures("all_ports_free")
def test_each_service_is_told_its_port_nats_database_and_where_auth_keys_are(
    tmp_path: Path,
) -> None:
    plan = tool.make_plan(list(tool.SERVICES), 2, "sqlite", tmp_path, any_port=False)
    tool.asyncio.run(tool.prepare_databases(plan, list(tool.SERVICES), "chore_"))
    plan.migrated.add("tasks")  # the supervisor applied them: replicas must not race to
    tasks2 = plan.instances["tasks"][1]
    env = plan.env_for(tasks2)
    assert env["TASKS_PORT"] == "8085"
    assert env["TASKS_NATS_URL"] == plan.nats_url
    assert env["TASKS_DATABASE_URL"] == f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}"
    auth2 = plan.instances["auth"][1].port
    assert env["TASKS_JWKS_URL"] == (  # every auth replica, so verifiers fail over
        "http://127.0.0.1:8081/auth/.well-known/jwks.json,"
        f"http://127.0.0.1:{auth2}/auth/.well-known/jwks.json"
    )
    assert env["TASKS_MIGRATE_ON_START"] == "false"
    assert plan.env_for(plan.instances["auth"][0])["AUTH_MIGRATE_ON_START"] == "true"

    gateway = plan.env_for(plan.instances["gateway"][0])
    assert "GATEWAY_DATABASE_URL" not in gateway
    assert json.loads(gateway["GATEWAY_UPSTREAMS"]) == {
        "auth": ["http://127.0.0.1:8081", "http://127.0.0.1:8084"],
        "tasks": ["http://127.0.0.1:8082", "http://127.0.0.1:8085"],
        "messaging": ["http://127.0.0.1:8083", "http://127.0.0.1:8086"],
    }


@pytest.mark.usefixtures("all_ports_free")
def test_mail_goes_to_the_local_smtp_sink_and_only_make_run_shows_it(tmp_path: Path) -> None:
    plan = tool.make_plan(list(tool.SERVICES), 2, "sqlite", tmp_path, any_port=False)
    assert plan.smtp_port not in {i.port for insts in plan.instances.values() for i in insts}
    for messaging in plan.instances["messaging"]:
        env = plan.env_for(messaging)
        assert env["MESSAGING_SMTP_HOST"] == "127.0.0.1"
        assert env["MESSAGING_SMTP_PORT"] == str(plan.smtp_port)
        assert env["MESSAGING_SMTP_TLS"] == "none"
        assert env["MESSAGING_MAIL_APP_URL"] == "http://127.0.0.1:8080"  # links: the gateway
    gateway = plan.env_for(plan.instances["gateway"][0])
    assert gateway["GATEWAY_DEV_MAIL_DIR"] == str(tmp_path / "mail")
    auth = plan.env_for(plan.instances["auth"][0])
    assert not [k for k in auth if "SMTP" in k or "_MAIL_" in k]  # only messaging sends mail


def test_any_port_gives_every_instance_its_own_free_port(tmp_path: Path) -> None:
    plan = tool.make_plan(list(tool.SERVICES), 3, "sqlite", tmp_path, any_port=True)
    ports = [i.port for insts in plan.instances.values() for i in insts] + [plan.nats_port]
    assert len(ports) == len(set(ports)) == 3 * 3 + 1 + 1


def test_a_busy_service_port_names_the_variable_that_moves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tool, "port_is_free", lambda port: port != 8082)
    monkeypatch.delenv("TASKS_PORT", raising=False)
    with pytest.raises(SystemExit, match="port 8082 for tasks is in use; set TASKS_PORT"):
        tool.make_plan(list(tool.SERVICES), 1, "sqlite", tmp_path, any_port=False)


def test_a_service_port_of_0_means_any_free_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_PORT", "0")
    only_auth = [s for s in tool.SERVICES if s.name == "auth"]
    plan = tool.make_plan(only_auth, 1, "sqlite", tmp_path, any_port=False)
    port = plan.instances["auth"][0].port
    assert port != 0
    assert tool.port_is_free(port)
    assert plan.jwks_url == f"http://127.0.0.1:{port}/auth/.well-known/jwks.json"


@pytest.mark.usefixtures("all_ports_free")
def test_access_log_probes_reaches_every_service_unless_one_is_set_on_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCESS_LOG_PROBES", "true")
    monkeypatch.setenv("TASKS_ACCESS_LOG_PROBES", "false")
    plan = tool.make_plan(list(tool.SERVICES), 1, "sqlite", tmp_path, any_port=False)
    envs = {name: plan.env_for(insts[0]) for name, insts in plan.instances.items()}
    assert envs["auth"]["AUTH_ACCESS_LOG_PROBES"] == "true"
    assert envs["gateway"]["GATEWAY_ACCESS_LOG_PROBES"] == "true"
    assert "TASKS_ACCESS_LOG_PROBES" not in envs["tasks"]  # its own setting stands


@pytest.mark.usefixtures("all_ports_free")
def test_without_access_log_probes_the_services_keep_their_default(tmp_path: Path) -> None:
    plan = tool.make_plan(list(tool.SERVICES), 1, "sqlite", tmp_path, any_port=False)
    for insts in plan.instances.values():
        assert not [k for k in plan.env_for(insts[0]) if k.endswith("ACCESS_LOG_PROBES")]


# -- OBSERVE=1: Prometheus beside the platform -----------------------------------------------


@pytest.fixture
def no_observe_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_PORT", raising=False)
    monkeypatch.delenv("GATEWAY_METRICS_PORT", raising=False)


@pytest.mark.usefixtures("all_ports_free", "no_observe_ports")
def test_observe_scrapes_every_replica_and_the_gateway_on_a_metrics_port_of_its_own(
    tmp_path: Path,
) -> None:
    plan = tool.make_plan(list(tool.SERVICES), 2, "sqlite", tmp_path, False, observe=True)
    gateway_env = plan.env_for(plan.instances["gateway"][0])
    metrics_port = int(gateway_env["GATEWAY_METRICS_PORT"])
    assert metrics_port not in (0, 9180)  # chosen here, so Prometheus knows where to look
    every_port = [i.port for insts in plan.instances.values() for i in insts]
    every_port += [plan.nats_port, plan.prometheus_port, metrics_port]
    assert len(every_port) == len(set(every_port))

    config = tool.prometheus_config(plan)
    [job] = config["scrape_configs"]
    assert job["job_name"] == "chore-pods"  # what the TargetDown rule watches
    targets = {
        (group["labels"]["app"], group["labels"]["pod"]): group["targets"]
        for group in job["static_configs"]
    }
    assert targets == {
        ("auth", "auth-1"): ["127.0.0.1:8081"],
        ("auth", "auth-2"): ["127.0.0.1:8084"],
        ("tasks", "tasks-1"): ["127.0.0.1:8082"],
        ("tasks", "tasks-2"): ["127.0.0.1:8085"],
        ("messaging", "messaging-1"): ["127.0.0.1:8083"],
        ("messaging", "messaging-2"): ["127.0.0.1:8086"],
        ("gateway", "gateway"): [f"127.0.0.1:{metrics_port}"],
    }
    [rules] = config["rule_files"]
    shipped = sorted((ROOT / "deploy" / "k8s" / "base" / "prometheus" / "rules").glob("*.yaml"))
    assert sorted(Path(rules).parent.glob(Path(rules).name)) == shipped != []


@pytest.mark.usefixtures("no_observe_ports")
def test_observe_pins_the_metrics_and_prometheus_ports_that_are_set_and_refuses_busy_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tool, "port_is_free", lambda port: port != 9180)
    monkeypatch.setenv("PROMETHEUS_PORT", "9091")
    monkeypatch.setenv("GATEWAY_METRICS_PORT", "9181")
    plan = tool.make_plan(list(tool.SERVICES), 1, "sqlite", tmp_path, True, observe=True)
    assert plan.prometheus_port == 9091
    assert plan.env_for(plan.instances["gateway"][0])["GATEWAY_METRICS_PORT"] == "9181"

    monkeypatch.setenv("GATEWAY_METRICS_PORT", "9180")
    with pytest.raises(
        SystemExit, match="port 9180 for gateway /metrics is in use; set GATEWAY_METRICS_PORT"
    ):
        tool.make_plan(list(tool.SERVICES), 1, "sqlite", tmp_path, True, observe=True)


@pytest.mark.usefixtures("all_ports_free", "no_observe_ports")
def test_without_observe_the_gateway_picks_its_own_metrics_port(tmp_path: Path) -> None:
    plan = tool.make_plan(list(tool.SERVICES), 1, "sqlite", tmp_path, any_port=False)
    assert plan.prometheus_port is None
    assert plan.env_for(plan.instances["gateway"][0])["GATEWAY_METRICS_PORT"] == "0"


@pytest.mark.usefixtures("all_ports_free", "no_observe_ports")
def test_the_generated_prometheus_config_passes_promtool_with_every_rule_file(
    tmp_path: Path,
) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus; .ci/run does)")
    plan = tool.make_plan(list(tool.SERVICES), 2, "sqlite", tmp_path, False, observe=True)
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps(tool.prometheus_config(plan)))
    result = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for rules in (ROOT / "deploy" / "k8s" / "base" / "prometheus" / "rules").glob("*.yaml"):
        assert str(rules) in result.stdout
