"""`make k8s-validate`'s policy: every rule holds on every overlay, and breaking a rule in a
copy of the rendered YAML is caught (a check that cannot fail proves nothing)."""

from __future__ import annotations

import copy
import importlib
import re
import subprocess
from collections.abc import Callable

import pytest
from aiohttp import web

from chore_common.settings import load_settings

from . import policy
from .manifests import (
    OVERLAYS,
    ROOT,
    SERVICES,
    Doc,
    all_containers,
    env_map,
    find,
    main_container,
    pod_spec,
    service_deployments,
    settings_class,
    workloads,
)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize(
    "check",
    [*policy.ALL_CHECKS, policy.nats, policy.secrets, policy.tracing],
    ids=lambda c: c.__name__,
)
def test_rule_holds(
    rendered: dict[str, list[Doc]], overlay: str, check: Callable[..., list[str]]
) -> None:
    docs = rendered[overlay]
    if check in (policy.nats, policy.secrets, policy.tracing):
        assert check(docs, prod=overlay == "prod") == []
    else:
        assert check(docs) == []


def test_overlays_differ_where_they_should(rendered: dict[str, list[Doc]]) -> None:
    dev, prod = rendered["dev"], rendered["prod"]
    assert find(dev, "StatefulSet", "postgres"), "dev runs its own PostgreSQL"
    assert not find(prod, "StatefulSet", "postgres"), "prod uses an external database"
    cidrs = [
        peer["ipBlock"]["cidr"]
        for rule in find(prod, "NetworkPolicy", "allow-database")[0]["spec"]["egress"]
        for peer in rule["to"]
        if "ipBlock" in peer
    ]
    assert cidrs, "prod opens the database path to the external address block"
    auth = service_deployments(prod)["auth"]
    env = env_map(prod, main_container(auth))
    key_file = env["AUTH_SIGNING_KEY_FILE"].value
    assert key_file is not None
    mounts = {m["mountPath"]: m["name"] for m in main_container(auth)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(auth)["volumes"]}
    mount = next(path for path in mounts if key_file.startswith(path + "/"))
    assert volumes[mounts[mount]]["secret"]["secretName"] == "auth-signing-keys"
    assert "AUTH_SIGNING_KEY_FILE" not in env_map(
        dev, main_container(service_deployments(dev)["auth"])
    )


@pytest.mark.parametrize("service", ["auth", "tasks", "messaging"])
def test_prod_keeps_each_stream_90_days_and_dev_the_default_week(
    rendered: dict[str, list[Doc]], service: str
) -> None:
    """Retention is each owner's setting (docs/events.md "Retention"): prod 90 days under a
    size cap, dev the settings' default (7 days, no cap)."""
    cls = settings_class(service)
    assert cls is not None
    retention = {}
    for overlay in OVERLAYS:
        env = env_map(
            rendered[overlay], main_container(service_deployments(rendered[overlay])[service])
        )
        values = {
            name.removeprefix(f"{service.upper()}_").lower(): var.value
            for name, var in env.items()
            if name.startswith(f"{service.upper()}_STREAM_MAX_")
        }
        settings = cls(**values)
        retention[overlay] = (settings.stream_max_age_s, settings.stream_max_bytes)
    assert retention["dev"] == (7 * 24 * 3600, -1)
    assert retention["prod"] == (90 * 24 * 3600, 16 * 1024**3)


@pytest.mark.parametrize("service", SERVICES)
def test_probe_and_scrape_paths_are_served(rendered: dict[str, list[Doc]], service: str) -> None:
    """The paths the probes and Prometheus use are routes of the service's own app."""
    cls = settings_class(service)
    if cls is None:
        pytest.skip(f"chore_{service} is not built yet")
    try:
        module = importlib.import_module(f"chore_{service}.app")
    except ModuleNotFoundError:
        pytest.skip(f"chore_{service}.app is not built yet")
    app: web.Application = module.create_app(load_settings(cls))
    served = {r.canonical for r in app.router.resources()}
    dep = service_deployments(rendered["dev"])[service]
    c = main_container(dep)
    wanted = {c[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")}
    scrape = dep["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"]
    if service == "gateway":
        # /metrics has a port of its own, and the public app must not serve it.
        from chore_gateway.adapters.metrics_port import create_metrics_app

        assert scrape not in served
        metrics_app = create_metrics_app()
        assert scrape in {r.canonical for r in metrics_app.router.resources()}
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports["metrics"] == cls.model_fields["metrics_port"].default
    else:
        wanted.add(scrape)
    assert wanted <= served, f"{service} does not serve {wanted - served}"
    assert c["ports"][0]["containerPort"] == cls.model_fields["port"].default


# -- negative: each rule fails when the YAML breaks it ------------------------------------------


def _mutated(rendered: dict[str, list[Doc]], change: Callable[[list[Doc]], None]) -> list[str]:
    docs = copy.deepcopy(rendered["dev"])
    change(docs)
    return policy.check_all(docs, prod=False)


def _tasks(docs: list[Doc]) -> Doc:
    return main_container(service_deployments(docs)["tasks"])


def _config(docs: list[Doc], service: str) -> dict[str, str]:
    cm = next(
        d
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith(f"{service}-config")
    )
    data: dict[str, str] = cm["data"]
    return data


def _drop_probes(docs: list[Doc]) -> None:
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        del _tasks(docs)[probe]


def _drop_readiness(docs: list[Doc]) -> None:
    del _tasks(docs)["readinessProbe"]


def _probe_wrong_path(docs: list[Doc]) -> None:
    _tasks(docs)["readinessProbe"]["httpGet"]["path"] = "/ready"


def _drop_resources(docs: list[Doc]) -> None:
    del _tasks(docs)["resources"]


def _drop_limits(docs: list[Doc]) -> None:
    del _tasks(docs)["resources"]["limits"]


def _root(docs: list[Doc]) -> None:
    del pod_spec(service_deployments(docs)["tasks"])["securityContext"]["runAsNonRoot"]
    _tasks(docs)["securityContext"]["runAsNonRoot"] = False


def _writable_root(docs: list[Doc]) -> None:
    _tasks(docs)["securityContext"]["readOnlyRootFilesystem"] = False


def _latest(docs: list[Doc]) -> None:
    _tasks(docs)["image"] = "chore/tasks:latest"


def _untagged(docs: list[Doc]) -> None:
    _tasks(docs)["image"] = "chore/tasks"


def _misspelt_env(docs: list[Doc]) -> None:
    data = _config(docs, "tasks")
    data["TASKS_NAST_URL"] = data.pop("TASKS_NATS_URL")


def _misspelt_inline_env(docs: list[Doc]) -> None:
    _tasks(docs).setdefault("env", []).append({"name": "TASKS_SHUTDOWN_GRACE", "value": "10"})


def _misspelt_otel(docs: list[Doc]) -> None:
    _config(docs, "gateway")["OTEL_EXPORTER_OTLP_ENDPIONT"] = "http://otel-collector:4318"


def _bad_value(docs: list[Doc]) -> None:
    _config(docs, "tasks")["TASKS_SCHEDULER_POLL_S"] = "0"


def _wrong_port(docs: list[Doc]) -> None:
    _config(docs, "auth")["AUTH_PORT"] = "9000"


def _loopback(docs: list[Doc]) -> None:
    del _config(docs, "messaging")["MESSAGING_HOST"]


def _inline_db_url(docs: list[Doc]) -> None:
    env = _tasks(docs)["env"]
    env[:] = [{"name": "TASKS_DATABASE_URL", "value": "postgresql+asyncpg://u:hunter2@db/tasks"}]


def _no_migrate_init(docs: list[Doc]) -> None:
    del pod_spec(service_deployments(docs)["tasks"])["initContainers"]


def _no_default_deny(docs: list[Doc]) -> None:
    docs[:] = [d for d in docs if d["metadata"]["name"] != "default-deny-all"]


def _open_ingress(docs: list[Doc]) -> None:
    pol = next(d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "tasks")
    pol["spec"]["ingress"].append({"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})


def _tight_grace(docs: list[Doc]) -> None:
    pod_spec(service_deployments(docs)["tasks"])["terminationGracePeriodSeconds"] = 12


def _token_mounted(docs: list[Doc]) -> None:
    pod_spec(service_deployments(docs)["tasks"])["automountServiceAccountToken"] = True


def _no_hpa(docs: list[Doc]) -> None:
    docs[:] = [
        d
        for d in docs
        if not (d["kind"] == "HorizontalPodAutoscaler" and d["metadata"]["name"] == "messaging")
    ]


def _no_pdb(docs: list[Doc]) -> None:
    docs[:] = [
        d
        for d in docs
        if not (d["kind"] == "PodDisruptionBudget" and d["metadata"]["name"] == "auth")
    ]


def _nats_two(docs: list[Doc]) -> None:
    find(docs, "StatefulSet", "nats")[0]["spec"]["replicas"] = 2


def _upstream_typo(docs: list[Doc]) -> None:
    _config(docs, "gateway")["GATEWAY_UPSTREAMS"] = '{"auth":["http://auht:8081"]}'


def _short_ws_timeout(docs: list[Doc]) -> None:
    ann = find(docs, "Ingress")[0]["metadata"]["annotations"]
    ann["nginx.ingress.kubernetes.io/proxy-read-timeout"] = "60"


def _gateway_service(docs: list[Doc]) -> Doc:
    return find(docs, "Service", "gateway")[0]


def _service_exposes_metrics(docs: list[Doc]) -> None:
    ports = _gateway_service(docs)["spec"]["ports"]
    ports.append({"name": "metrics", "port": 9180, "targetPort": "metrics", "protocol": "TCP"})


def _ingress_routes_to_metrics(docs: list[Doc]) -> None:
    extra = copy.deepcopy(_gateway_service(docs))
    extra["metadata"]["name"] = "gateway-metrics"
    extra["spec"]["ports"] = [{"name": "scrape", "port": 80, "targetPort": 9180}]
    docs.append(extra)
    backend = find(docs, "Ingress")[0]["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    backend["service"] = {"name": "gateway-metrics", "port": {"number": 80}}


def _ingress_controller_reaches_metrics(docs: list[Doc]) -> None:
    rule = find(docs, "NetworkPolicy", "gateway")[0]["spec"]["ingress"][0]
    rule["ports"].append({"port": "metrics", "protocol": "TCP"})


def _metrics_on_the_public_port(docs: list[Doc]) -> None:
    gateway = main_container(service_deployments(docs)["gateway"])
    for port in gateway["ports"]:
        if port["name"] == "metrics":
            port["containerPort"] = 8080
    _config(docs, "gateway")["GATEWAY_METRICS_PORT"] = "8080"


def _metrics_setting_elsewhere(docs: list[Doc]) -> None:
    _config(docs, "gateway")["GATEWAY_METRICS_PORT"] = "9999"


def _prometheus_cannot_scrape(docs: list[Doc]) -> None:
    egress = find(docs, "NetworkPolicy", "prometheus")[0]["spec"]["egress"][0]
    egress["ports"] = [p for p in egress["ports"] if p["port"] != 9180]


def _password_in_secret(docs: list[Doc]) -> None:
    import base64

    secret = find(docs, "Secret")[0]
    url = b"postgresql+asyncpg://postgres:s3cret@postgres:5432/auth"
    secret["data"]["auth-url"] = base64.b64encode(url).decode()


BREAKS = {
    "probes removed": (_drop_probes, "no readinessProbe"),
    "readiness probe removed": (_drop_readiness, "no readinessProbe"),
    "probe on a path not served": (_probe_wrong_path, "expected /readyz"),
    "resources removed": (_drop_resources, "no cpu in resources.requests"),
    "limits removed": (_drop_limits, "no memory in resources.limits"),
    "runAsNonRoot dropped": (_root, "runAsNonRoot is not true"),
    "writable root filesystem": (_writable_root, "readOnlyRootFilesystem is not true"),
    "image :latest": (_latest, "is not pinned"),
    "image without a tag": (_untagged, "is not pinned"),
    "env var misspelt (ConfigMap)": (_misspelt_env, "TASKS_NAST_URL is not a setting"),
    "env var misspelt (inline)": (_misspelt_inline_env, "TASKS_SHUTDOWN_GRACE is not a setting"),
    "OTEL variable misspelt": (_misspelt_otel, "OTEL_EXPORTER_OTLP_ENDPIONT is not a setting"),
    "invalid setting value": (_bad_value, "invalid setting ('scheduler_poll_s',)"),
    "port differs from the container port": (_wrong_port, "AUTH_PORT=9000"),
    "service left on loopback": (_loopback, "MESSAGING_HOST must be 0.0.0.0"),
    "database URL inline": (_inline_db_url, "DATABASE_URL is inline"),
    "no migration init container": (
        _no_migrate_init,
        "no init container runs `chore-tasks migrate`",
    ),
    "default deny removed": (_no_default_deny, "no default-deny NetworkPolicy"),
    "service open to the world": (_open_ingress, "reach tasks"),
    "grace period too short": (_tight_grace, "leaves no room"),
    "API token mounted": (_token_mounted, "automountServiceAccountToken is not false"),
    "messaging HPA removed": (_no_hpa, "Deployment/messaging: no HorizontalPodAutoscaler"),
    "PDB removed": (_no_pdb, "Deployment/auth: no PodDisruptionBudget"),
    "NATS short of 3 nodes": (_nats_two, "nats: not 3 replicas"),
    "gateway upstream misspelt": (_upstream_typo, "names no Service"),
    "Ingress cuts idle WebSockets": (_short_ws_timeout, "would cut idle WebSockets"),
    "password in a Secret": (_password_in_secret, "holds a secret value"),
    "gateway Service exposes /metrics": (
        _service_exposes_metrics,
        "Service/gateway: exposes the gateway's metrics port",
    ),
    "Ingress routes to /metrics": (
        _ingress_routes_to_metrics,
        "Ingress/gateway: routes to the gateway's metrics port",
    ),
    "ingress controller may reach /metrics": (
        _ingress_controller_reaches_metrics,
        "NetworkPolicy/gateway: lets {'namespaceSelector'",
    ),
    "/metrics on the public port": (_metrics_on_the_public_port, "the metrics port is the public"),
    "metrics setting off its port": (_metrics_setting_elsewhere, "GATEWAY_METRICS_PORT is not"),
    "Prometheus cannot scrape the gateway": (
        _prometheus_cannot_scrape,
        "Deployment/gateway: Prometheus may not reach its scrape port 9180",
    ),
}


@pytest.mark.parametrize("case", BREAKS, ids=list(BREAKS))
def test_policy_catches(rendered: dict[str, list[Doc]], case: str) -> None:
    change, expected = BREAKS[case]
    violations = _mutated(rendered, change)
    assert any(expected in v for v in violations), violations


def test_prod_without_fsync_is_caught(rendered: dict[str, list[Doc]]) -> None:
    docs = copy.deepcopy(rendered["prod"])
    for cm in find(docs, "ConfigMap"):
        if cm["metadata"]["name"].startswith("nats-config"):
            cm["data"]["jetstream.conf"] = cm["data"]["jetstream.conf"].replace(
                "sync_interval: always", ""
            )
    assert "nats: prod config lacks `sync_interval: always`" in policy.nats(docs, prod=True)


def _configs(docs: list[Doc], service: str) -> list[Doc]:
    return [
        d
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith(f"{service}-config")
    ]


def test_a_service_without_a_sampler_is_caught(rendered: dict[str, list[Doc]]) -> None:
    docs = copy.deepcopy(rendered["dev"])
    for cm in _configs(docs, "tasks"):
        cm["data"].pop("OTEL_TRACES_SAMPLER", None)
    assert "Deployment/tasks: OTEL_TRACES_SAMPLER is not parentbased_traceidratio" in (
        policy.tracing(docs, prod=False)
    )


def test_prod_recording_every_trace_is_caught(rendered: dict[str, list[Doc]]) -> None:
    docs = copy.deepcopy(rendered["prod"])
    assert policy.tracing(docs, prod=True) == []
    for cm in _configs(docs, "gateway"):
        cm["data"]["OTEL_TRACES_SAMPLER_ARG"] = "1.0"
    assert policy.tracing(docs, prod=True) == [
        "Deployment/gateway: prod samples 1.0 of traces (at most 0.25)"
    ]


def test_no_secret_values_in_git() -> None:
    """S9: nothing under deploy/ (or the compose file) that git tracks holds key material or
    a password."""
    files = subprocess.run(
        ["git", "ls-files", "deploy", "docker-compose.yml", ".dockerignore"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert files, "git lists the deploy files"
    for name in files:
        text = (ROOT / name).read_text(errors="replace")
        assert "PRIVATE KEY" not in text, name
        assert not re.search(r"://[^/@\s:'\"]+:[^/@\s'\"]+@", text), f"{name}: password in a URL"
        # An assignment of a password or key, not a reference to one (secretName: ...).
        assignment = re.search(
            r"(?im)^[ \t-]*[\w.]*(password|passwd|api_?key|private_?key)[\w.]*[ \t]*[:=][ \t]*\S+",
            text,
        )
        assert assignment is None, f"{name}: {assignment and assignment.group(0)}"


def test_no_overlay_shows_the_dev_mail_page(rendered: dict[str, list[Doc]]) -> None:
    """/dev/mail shows every mail (reset links included) to anyone: `make run` only."""
    for overlay, docs in rendered.items():
        settings = [key for cm in find(docs, "ConfigMap") for key in cm.get("data", {})]
        for wl in workloads(docs):
            for c in all_containers(pod_spec(wl)):
                settings += [var.name for var in env_map(docs, c).values()]
        assert "GATEWAY_DEV_MAIL_DIR" not in settings, overlay
        assert "MESSAGING_SMTP_PORT" in settings, overlay  # the check sees the env at all
