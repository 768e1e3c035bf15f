"""The platform's own rules for its rendered manifests. Each check returns the violations it
found (empty: the rule holds), so a test can break a copy of the YAML and see it caught.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlparse

from pydantic import ValidationError

from .manifests import (
    Doc,
    all_containers,
    env_map,
    env_prefix,
    find,
    image_service,
    main_container,
    pod_spec,
    service_deployments,
    settings_class,
    termination_budget_s,
    workloads,
)

# The standard OpenTelemetry SDK variables the services are configured with (read by the SDK,
# not by the settings classes). Anything else must be a field of the service's settings.
OTEL_VARS = frozenset(
    {
        "OTEL_SERVICE_NAME",
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_SDK_DISABLED",
    }
)
# The one pod that calls the Kubernetes API (pod discovery) and so needs its token.
API_CLIENTS = frozenset({"prometheus"})
# After the preStop sleep a service needs SHUTDOWN_GRACE_S for in-flight requests, then its
# cleanup (relay flush, NATS drain, engine, span flush): at least this much more.
CLEANUP_MARGIN_S = 5.0
WEBSOCKET_TIMEOUT_S = 3600
PLACEHOLDER_URL = "postgresql+asyncpg://placeholder@db:5432/placeholder"


def _name(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def _has_tag(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and not last.endswith(":latest")


def pod_security(docs: list[Doc]) -> list[str]:
    """S9: non-root, read-only root FS, no escalation, no capabilities, seccomp, resources,
    pinned images, no API token where the API is not used."""
    bad: list[str] = []
    for wl in workloads(docs):
        spec, where = pod_spec(wl), _name(wl)
        pod_ctx = spec.get("securityContext", {})
        if pod_ctx.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            bad.append(f"{where}: pod seccompProfile is not RuntimeDefault")
        sa = spec.get("serviceAccountName", "default")
        if sa not in API_CLIENTS and spec.get("automountServiceAccountToken") is not False:
            bad.append(f"{where}: automountServiceAccountToken is not false")
        for c in all_containers(spec):
            at = f"{where} container {c['name']}"
            ctx = c.get("securityContext", {})
            if ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is not True:
                bad.append(f"{at}: runAsNonRoot is not true")
            if ctx.get("runAsUser", pod_ctx.get("runAsUser")) == 0:
                bad.append(f"{at}: runs as uid 0")
            if ctx.get("readOnlyRootFilesystem") is not True:
                bad.append(f"{at}: readOnlyRootFilesystem is not true")
            if ctx.get("allowPrivilegeEscalation") is not False:
                bad.append(f"{at}: allowPrivilegeEscalation is not false")
            if ctx.get("privileged"):
                bad.append(f"{at}: privileged")
            if "ALL" not in ctx.get("capabilities", {}).get("drop", []):
                bad.append(f"{at}: capabilities do not drop ALL")
            if ctx.get("capabilities", {}).get("add"):
                bad.append(f"{at}: adds capabilities")
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    if what not in res.get(kind, {}):
                        bad.append(f"{at}: no {what} in resources.{kind}")
            if not _has_tag(c["image"]):
                bad.append(f"{at}: image {c['image']} is not pinned (no tag, or :latest)")
    for sa_doc in find(docs, "ServiceAccount"):
        name = sa_doc["metadata"]["name"]
        if name not in API_CLIENTS and sa_doc.get("automountServiceAccountToken") is not False:
            bad.append(f"ServiceAccount/{name}: automountServiceAccountToken is not false")
    return bad


def _http_get(probe: Doc | None) -> tuple[str, Any] | None:
    if not probe or "httpGet" not in probe:
        return None
    return str(probe["httpGet"]["path"]), probe["httpGet"]["port"]


def _port_number(container: Doc, port: Any) -> int | None:
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return int(p["containerPort"])
    return None


def service_pods(docs: list[Doc]) -> list[str]:
    """Probes, ports, /tmp, shutdown budget, Service, HPA and PDB of every service."""
    bad: list[str] = []
    deployments = service_deployments(docs)
    for svc in ("auth", "tasks", "messaging", "gateway"):
        if svc not in deployments:
            bad.append(f"no Deployment runs chore/{svc}")
    for svc, dep in deployments.items():
        c, where = main_container(dep), _name(dep)
        expect = {
            "startupProbe": "/healthz",
            "livenessProbe": "/healthz",
            # The gateway's /readyz needs every upstream: as its readiness probe, one service
            # down would pull every gateway pod (deploy/k8s/base/gateway/deployment.yaml).
            "readinessProbe": "/healthz" if svc == "gateway" else "/readyz",
        }
        for probe, path in expect.items():
            got = _http_get(c.get(probe))
            if got is None:
                bad.append(f"{where}: no {probe} (httpGet)")
                continue
            if got[0] != path:
                bad.append(f"{where}: {probe} on {got[0]}, expected {path}")
            if _port_number(c, got[1]) is None:
                bad.append(f"{where}: {probe} port {got[1]!r} is not a container port")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in pod_spec(dep).get("volumes", [])}
        if "emptyDir" not in volumes.get(mounts.get("/tmp", ""), {}):
            bad.append(f"{where}: no emptyDir on /tmp (the root filesystem is read-only)")
        ann = dep["spec"]["template"]["metadata"].get("annotations", {})
        if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/path") != "/metrics":
            bad.append(f"{where}: pods are not annotated for Prometheus on /metrics")
        http = _port_number(c, "http")
        # The gateway's /metrics is on a port of its own (see metrics_private).
        scrape_port = "metrics" if svc == "gateway" else "http"
        scraped = _port_number(c, scrape_port)
        if scraped is None or ann.get("prometheus.io/port") != str(scraped):
            bad.append(f"{where}: prometheus.io/port is not the {scrape_port} port {scraped}")
        env = env_map(docs, c)
        prefix = f"{svc.upper()}_"
        grace = env.get(f"{prefix}SHUTDOWN_GRACE_S")
        grace_s = float(grace.value) if grace and grace.value else 10.0
        budget = termination_budget_s(dep)
        if budget < grace_s + CLEANUP_MARGIN_S:
            bad.append(
                f"{where}: terminationGracePeriodSeconds - preStop = {budget:g}s leaves no room"
                f" for SHUTDOWN_GRACE_S={grace_s:g}s + {CLEANUP_MARGIN_S:g}s cleanup"
            )
        if not c.get("lifecycle", {}).get("preStop"):
            bad.append(f"{where}: no preStop hook (endpoints need time to drop the pod)")
        labels = dep["spec"]["template"]["metadata"]["labels"]
        bad += _selected_by(docs, "Service", labels, where, port=http)
        bad += _selected_by(docs, "PodDisruptionBudget", labels, where)
        hpas = [
            h for h in find(docs, "HorizontalPodAutoscaler")
            if h["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]
        ]  # fmt: skip
        if not hpas:
            bad.append(f"{where}: no HorizontalPodAutoscaler")
        for hpa in hpas:
            kinds = {m["type"]: m for m in hpa["spec"].get("metrics", [])}
            if kinds.get("Resource", {}).get("resource", {}).get("name") != "cpu":
                bad.append(f"{_name(hpa)}: does not scale on CPU")
            if hpa["spec"].get("minReplicas", 1) < 2:
                bad.append(f"{_name(hpa)}: minReplicas below 2 (a drain would stop the service)")
            if svc == "messaging":
                pods = kinds.get("Pods", {}).get("pods", {}).get("metric", {}).get("name")
                documented = hpa["metadata"].get("annotations", {}).get("chore.dev/custom-metric")
                if not pods or pods != documented:
                    bad.append(f"{_name(hpa)}: no documented custom metric on open sockets")
        if "replicas" in dep["spec"]:
            bad.append(f"{where}: sets replicas, which would fight its HPA on every apply")
    return bad


def _matches(selector: Doc, labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        have = labels.get(expr["key"])
        if expr["operator"] == "In" and have not in expr["values"]:
            return False
        if expr["operator"] == "NotIn" and have in expr["values"]:
            return False
        if expr["operator"] == "Exists" and have is None:
            return False
    return True


def _selected_by(
    docs: list[Doc], kind: str, labels: dict[str, str], where: str, port: int | None = None
) -> list[str]:
    for doc in find(docs, kind):
        selector = doc["spec"].get("selector", {})
        if kind == "Service":
            selector = {"matchLabels": selector}
        if selector and _matches(selector, labels):
            if port is not None and kind == "Service":
                targets = [p.get("targetPort") for p in doc["spec"]["ports"]]
                if "http" not in targets and port not in targets:
                    return [f"{_name(doc)}: does not target {where}'s http port"]
            return []
    return [f"{where}: no {kind} selects its pods"]


def service_settings(docs: list[Doc]) -> list[str]:
    """Every variable a service container gets is one of its settings (or a standard OTEL_*
    one); what a pod needs is provided; the values pass the settings' own validation."""
    bad: list[str] = []
    for svc, dep in service_deployments(docs).items():
        cls = settings_class(svc)
        if cls is None:
            continue  # the service's code is not there yet: nothing to check against
        prefix = env_prefix(cls)
        fields = {f"{prefix}{name}".upper(): name for name in cls.model_fields}
        spec, where = pod_spec(dep), _name(dep)
        for c in all_containers(spec):
            if image_service(c["image"]) != svc:
                continue
            at = f"{where} container {c['name']}"
            env = env_map(docs, c)
            values: dict[str, Any] = {}
            for name, var in env.items():
                if name in OTEL_VARS:
                    continue
                if name not in fields:
                    bad.append(f"{at}: {name} is not a setting of {cls.__name__}")
                    continue
                values[fields[name]] = (
                    var.value if var.value is not None else _placeholder(cls, fields[name])
                )
            for name, field in cls.model_fields.items():
                if field.is_required() and name not in values:
                    bad.append(f"{at}: required setting {prefix}{name.upper()} is not set")
            try:
                cls(**values)
            except ValidationError as exc:
                first = exc.errors()[0]
                bad.append(f"{at}: invalid setting {first['loc']}: {first['msg']}")
            bad += _deployment_needs(svc, cls, prefix, c, env, at)
    return bad


def _placeholder(cls: type[Any], field: str) -> str:
    """A value that passes for one kept in a Secret: a number where the setting is one."""
    annotation = cls.model_fields[field].annotation
    return "587" if annotation is int else PLACEHOLDER_URL


def _deployment_needs(
    svc: str, cls: type, prefix: str, c: Doc, env: dict[str, Any], at: str
) -> list[str]:
    bad: list[str] = []
    model_fields = cls.model_fields  # type: ignore[attr-defined]
    owns_db = "migrate_on_start" in model_fields
    if c["name"] != "migrate":
        host = env.get(f"{prefix}HOST")
        if host is None or host.value != "0.0.0.0":
            bad.append(f"{at}: {prefix}HOST must be 0.0.0.0 (the default only listens in the pod)")
        port = env.get(f"{prefix}PORT")
        served = model_fields["port"].default
        container_port = _port_number(c, "http")
        if port is not None and port.value != str(container_port):
            bad.append(f"{at}: {prefix}PORT={port.value} but the http port is {container_port}")
        if port is None and container_port != served:
            bad.append(f"{at}: the service listens on {served}, the http port is {container_port}")
    if owns_db:
        url = env.get(f"{prefix}DATABASE_URL")
        if url is None:
            bad.append(f"{at}: {prefix}DATABASE_URL is not set (it would write SQLite to /tmp)")
        elif url.value is not None:
            bad.append(f"{at}: {prefix}DATABASE_URL is inline; it belongs in a Secret")
        migrate = env.get(f"{prefix}MIGRATE_ON_START")
        if c["name"] != "migrate" and (migrate is None or migrate.value != "false"):
            bad.append(
                f"{at}: {prefix}MIGRATE_ON_START must be false (the init container migrates)"
            )
        if f"{prefix}NATS_URL" not in env:
            bad.append(f"{at}: {prefix}NATS_URL is not set")
        if svc != "auth" and f"{prefix}JWKS_URL" not in env:
            bad.append(f"{at}: {prefix}JWKS_URL is not set")
    return bad


def migrations(docs: list[Doc]) -> list[str]:
    """A service that owns a database migrates before it serves (init container)."""
    bad: list[str] = []
    for svc, dep in service_deployments(docs).items():
        cls = settings_class(svc)
        owns_db = "migrate_on_start" in cls.model_fields if cls is not None else svc != "gateway"
        inits = pod_spec(dep).get("initContainers", [])
        commands = [c.get("command", []) for c in inits]
        if owns_db and [f"chore-{svc}", "migrate"] not in commands:
            bad.append(f"{_name(dep)}: no init container runs `chore-{svc} migrate`")
    return bad


def gateway_routes(docs: list[Doc]) -> list[str]:
    """GATEWAY_UPSTREAMS names rendered Services on the ports their pods serve."""
    bad: list[str] = []
    dep = service_deployments(docs).get("gateway")
    if dep is None:
        return ["no gateway Deployment"]
    env = env_map(docs, main_container(dep))
    raw = env.get("GATEWAY_UPSTREAMS")
    if raw is None or raw.value is None:
        return ["gateway: GATEWAY_UPSTREAMS is not set"]
    services = {s["metadata"]["name"]: s for s in find(docs, "Service")}
    for routed, bases in json.loads(raw.value).items():
        for base in bases:
            url = urlparse(base)
            svc = services.get(url.hostname or "")
            if svc is None:
                bad.append(f"gateway: upstream {base} names no Service")
                continue
            if url.port not in [p["port"] for p in svc["spec"]["ports"]]:
                bad.append(f"gateway: upstream {base} is not a port of Service/{url.hostname}")
            if url.hostname != routed:
                bad.append(f"gateway: {routed} routes to Service/{url.hostname}")
    return bad


def network(docs: list[Doc]) -> list[str]:
    """Default deny both ways; every pod is opened by a policy of its own; services take
    requests only from the gateway (auth: also its JWKS readers) and Prometheus."""
    bad: list[str] = []
    policies = find(docs, "NetworkPolicy")
    deny = [
        p for p in policies
        if p["spec"].get("podSelector") == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress") and not p["spec"].get("egress")
    ]  # fmt: skip
    if not deny:
        bad.append("no default-deny NetworkPolicy (podSelector {}, Ingress and Egress, no rules)")
    for wl in workloads(docs):
        labels = wl["spec"]["template"]["metadata"]["labels"]
        own = [
            p
            for p in policies
            if p["spec"].get("podSelector") and _matches(p["spec"]["podSelector"], labels)
        ]
        if not own:
            bad.append(f"{_name(wl)}: no NetworkPolicy opens its paths")
    allowed = {"auth": {"gateway", "tasks", "messaging", "prometheus"}}
    for svc in ("auth", "tasks", "messaging"):
        callers = allowed.get(svc, {"gateway", "prometheus"})
        labels = {"app.kubernetes.io/name": svc}
        for p in policies:
            if not p["spec"].get("podSelector") or not _matches(p["spec"]["podSelector"], labels):
                continue
            for rule in p["spec"].get("ingress", []):
                for peer in rule.get("from", []):
                    name = (
                        peer.get("podSelector", {})
                        .get("matchLabels", {})
                        .get("app.kubernetes.io/name")
                    )
                    if "ipBlock" in peer or "namespaceSelector" in peer or name not in callers:
                        bad.append(f"{_name(p)}: lets {peer} reach {svc}")
    return bad


def _reaches(port: Any, wanted: set[Any]) -> bool:
    return port is None or port in wanted


def metrics_private(docs: list[Doc]) -> list[str]:
    """The gateway's /metrics names every upstream address: it listens on a port of its own
    (GATEWAY_METRICS_PORT, the container port `metrics`), which Prometheus scrapes and
    nothing public reaches: no Service selecting the gateway's pods targets it, no Ingress
    routes to it, and its NetworkPolicy lets only Prometheus at it."""
    bad: list[str] = []
    dep = service_deployments(docs).get("gateway")
    if dep is None:
        return ["no gateway Deployment"]
    c, where = main_container(dep), _name(dep)
    metrics, http = _port_number(c, "metrics"), _port_number(c, "http")
    if metrics is None:
        return [f"{where}: no container port named metrics (GATEWAY_METRICS_PORT)"]
    if metrics == http:
        bad.append(f"{where}: the metrics port is the public port {http}")
    setting = env_map(docs, c).get("GATEWAY_METRICS_PORT")
    if setting is None or setting.value != str(metrics):
        bad.append(f"{where}: GATEWAY_METRICS_PORT is not the metrics container port {metrics}")
    wanted = {"metrics", metrics}
    labels = dep["spec"]["template"]["metadata"]["labels"]
    services = {s["metadata"]["name"]: s for s in find(docs, "Service")}
    for svc in services.values():
        selector = svc["spec"].get("selector") or {}
        if not selector or not _matches({"matchLabels": selector}, labels):
            continue
        for port in svc["spec"]["ports"]:
            if port.get("targetPort", port["port"]) in wanted:
                bad.append(f"{_name(svc)}: exposes the gateway's metrics port ({port['port']})")
    for ing in find(docs, "Ingress"):
        backends = [ing["spec"].get("defaultBackend", {})] + [
            path["backend"] for rule in ing["spec"].get("rules", [])
            for path in rule.get("http", {}).get("paths", [])
        ]  # fmt: skip
        for backend in backends:
            ref = backend.get("service")
            if not ref or ref["name"] not in services:
                continue
            svc = services[ref["name"]]
            selector = svc["spec"].get("selector") or {}
            if not selector or not _matches({"matchLabels": selector}, labels):
                continue
            named = ref.get("port", {})
            for port in svc["spec"]["ports"]:
                chosen = named.get("name") in (None, port.get("name")) and named.get("number") in (
                    None,
                    port["port"],
                )
                if chosen and port.get("targetPort", port["port"]) in wanted:
                    bad.append(f"{_name(ing)}: routes to the gateway's metrics port")
    for pol in find(docs, "NetworkPolicy"):
        selector = pol["spec"].get("podSelector")
        if not selector or not _matches(selector, labels):
            continue
        for rule in pol["spec"].get("ingress", []):
            ports = rule.get("ports")
            if ports is not None and not any(_reaches(p.get("port"), wanted) for p in ports):
                continue
            for peer in rule.get("from", [{"everyone": True}]):
                name = peer.get("podSelector", {}).get("matchLabels", {})
                if (
                    name.get("app.kubernetes.io/name") != "prometheus"
                    or "namespaceSelector" in peer
                    or "ipBlock" in peer
                ):
                    bad.append(f"{_name(pol)}: lets {peer} reach the gateway's metrics port")
    return bad


def scraping(docs: list[Doc]) -> list[str]:
    """Prometheus may reach the port each scraped pod names (its egress policy)."""
    bad: list[str] = []
    egress = [
        rule for pol in find(docs, "NetworkPolicy")
        if pol["spec"].get("podSelector", {}).get("matchLabels", {}).get(
            "app.kubernetes.io/name") == "prometheus"
        for rule in pol["spec"].get("egress", [])
    ]  # fmt: skip
    for wl in workloads(docs):
        ann = wl["spec"]["template"]["metadata"].get("annotations", {})
        if ann.get("prometheus.io/scrape") != "true":
            continue
        port = int(ann.get("prometheus.io/port", "0"))
        if not any(
            "ports" not in rule or any(p.get("port") == port for p in rule["ports"])
            for rule in egress
        ):
            bad.append(f"{_name(wl)}: Prometheus may not reach its scrape port {port}")
    return bad


def nats(docs: list[Doc], *, prod: bool) -> list[str]:
    """A 3-node JetStream cluster on persistent volumes, spread, with a PDB; prod fsyncs."""
    bad: list[str] = []
    sts = find(docs, "StatefulSet", "nats")
    if not sts:
        return ["no NATS StatefulSet"]
    s = sts[0]
    if s["spec"].get("replicas") != 3:
        bad.append("nats: not 3 replicas")
    if not s["spec"].get("volumeClaimTemplates"):
        bad.append("nats: no persistent volume claims")
    anti = pod_spec(s).get("affinity", {}).get("podAntiAffinity", {})
    key = "requiredDuringSchedulingIgnoredDuringExecution"
    if prod and key not in anti:
        bad.append("nats: prod needs required pod anti-affinity")
    if not anti:
        bad.append("nats: no pod anti-affinity")
    labels = s["spec"]["template"]["metadata"]["labels"]
    bad += _selected_by(docs, "PodDisruptionBudget", labels, "nats")
    conf = "\n".join(
        str(v) for cm in find(docs, "ConfigMap") if cm["metadata"]["name"].startswith("nats-config")
        for v in cm.get("data", {}).values()
    )  # fmt: skip
    if "jetstream" not in conf:
        bad.append("nats: JetStream is not enabled in its config")
    if prod and not re.search(r"^\s*sync_interval:\s*always\s*$", conf, re.M):
        bad.append("nats: prod config lacks `sync_interval: always`")
    return bad


def ingress(docs: list[Doc]) -> list[str]:
    bad: list[str] = []
    found = find(docs, "Ingress")
    if not found:
        return ["no Ingress"]
    for ing in found:
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                if path["backend"]["service"]["name"] != "gateway":
                    bad.append(f"{_name(ing)}: routes to {path['backend']['service']['name']}")
        ann = ing["metadata"].get("annotations", {})
        for key in ("proxy-read-timeout", "proxy-send-timeout"):
            value = ann.get(f"nginx.ingress.kubernetes.io/{key}", "60")
            if int(value) < WEBSOCKET_TIMEOUT_S:
                bad.append(f"{_name(ing)}: {key} {value}s would cut idle WebSockets")
    return bad


PROD_MAX_SAMPLE_RATIO = 0.25


def tracing(docs: list[Doc], *, prod: bool) -> list[str]:
    """Every service exports spans over OTLP with a parent-based ratio sampler (what `make
    bench` measures); prod records a share of new traces, not all of them."""
    bad: list[str] = []
    for dep in service_deployments(docs).values():
        env = env_map(docs, main_container(dep))
        at = _name(dep)
        value = {name: (var.value or "") for name, var in env.items()}
        if value.get("OTEL_TRACES_EXPORTER") != "otlp":
            bad.append(f"{at}: OTEL_TRACES_EXPORTER is not otlp")
        if value.get("OTEL_TRACES_SAMPLER") != "parentbased_traceidratio":
            bad.append(f"{at}: OTEL_TRACES_SAMPLER is not parentbased_traceidratio")
            continue
        try:
            ratio = float(value.get("OTEL_TRACES_SAMPLER_ARG", ""))
        except ValueError:
            bad.append(f"{at}: OTEL_TRACES_SAMPLER_ARG is not a number")
            continue
        if not 0 < ratio <= 1:
            bad.append(f"{at}: OTEL_TRACES_SAMPLER_ARG {ratio} is not in (0, 1]")
        elif prod and ratio > PROD_MAX_SAMPLE_RATIO:
            bad.append(f"{at}: prod samples {ratio} of traces (at most {PROD_MAX_SAMPLE_RATIO})")
    return bad


def secrets(docs: list[Doc], *, prod: bool) -> list[str]:
    """Prod renders no Secret (they come from outside); dev's hold no password or key."""
    bad: list[str] = []
    for secret in find(docs, "Secret"):
        if prod:
            bad.append(f"{_name(secret)}: prod must not carry a Secret (made outside git)")
        import base64

        for key, value in secret.get("data", {}).items():
            text = base64.b64decode(value).decode(errors="replace")
            if re.search(r"://[^/@\s:]+:[^/@\s]+@", text) or "PRIVATE KEY" in text:
                bad.append(f"{_name(secret)}: {key} holds a secret value")
    return bad


ALL_CHECKS = (
    pod_security,
    service_pods,
    service_settings,
    migrations,
    gateway_routes,
    network,
    ingress,
    metrics_private,
    scraping,
)


def check_all(docs: list[Doc], *, prod: bool) -> list[str]:
    bad: list[str] = []
    for check in ALL_CHECKS:
        bad += check(docs)
    bad += nats(docs, prod=prod)
    bad += secrets(docs, prod=prod)
    bad += tracing(docs, prod=prod)
    return bad
