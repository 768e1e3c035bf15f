"""Render the Kustomize overlays and read what a service's pods would get.

Everything here works on plain dicts (the rendered YAML), so a test can mutate a copy and
show that the policy notices.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chore_common.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
SERVICES = ("auth", "tasks", "messaging", "gateway")
# The Kubernetes version whose schemas the manifests are validated against (strict, offline).
K8S_VERSION = "1.32.0"

Doc = dict[str, Any]
POD_OWNERS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
IMAGE = re.compile(r"(?:^|/)chore/(?P<service>[a-z]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>.+))?$")


def kubectl() -> str | None:
    return shutil.which("kubectl")


def render(overlay: str) -> list[Doc]:
    """`kubectl kustomize deploy/k8s/overlays/<overlay>`, parsed."""
    exe = kubectl()
    assert exe is not None, "kubectl is needed to render the overlays"
    out = subprocess.run(
        [exe, "kustomize", str(K8S / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def dump(docs: list[Doc]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def find(docs: list[Doc], kind: str, name: str | None = None) -> list[Doc]:
    return [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def workloads(docs: list[Doc]) -> list[Doc]:
    return [d for d in docs if d["kind"] in POD_OWNERS]


def all_containers(spec: Doc) -> list[Doc]:
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def image_service(image: str) -> str | None:
    match = IMAGE.search(image)
    return match["service"] if match else None


def service_deployments(docs: list[Doc]) -> dict[str, Doc]:
    """The Deployments that run one of our services, by service name."""
    found: dict[str, Doc] = {}
    for doc in find(docs, "Deployment"):
        main = pod_spec(doc)["containers"][0]
        svc = image_service(main["image"])
        if svc is not None:
            found[svc] = doc
    return found


def main_container(deployment: Doc) -> Doc:
    container: Doc = pod_spec(deployment)["containers"][0]
    return container


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str | None  # None when it comes from a Secret (or another reference)
    source: str  # "env", "configmap/<name>", "secret/<name>/<key>"


def container_env(docs: list[Doc], container: Doc) -> Iterator[EnvVar]:
    """Every variable the container gets, from env and from envFrom ConfigMaps/Secrets."""
    for ref in container.get("envFrom", []):
        if "configMapRef" in ref:
            name = ref["configMapRef"]["name"]
            maps = find(docs, "ConfigMap", name)
            assert maps, f"envFrom names ConfigMap {name}, which is not rendered"
            for key, value in maps[0].get("data", {}).items():
                yield EnvVar(key, str(value), f"configmap/{name}")
        elif "secretRef" in ref:
            name = ref["secretRef"]["name"]
            for secret in find(docs, "Secret", name):
                for key in {**secret.get("data", {}), **secret.get("stringData", {})}:
                    yield EnvVar(key, None, f"secret/{name}")
    for var in container.get("env", []):
        if "value" in var:
            yield EnvVar(var["name"], str(var["value"]), "env")
        else:
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            source = f"secret/{ref['name']}/{ref['key']}" if ref else "ref"
            yield EnvVar(var["name"], None, source)


def env_map(docs: list[Doc], container: Doc) -> dict[str, EnvVar]:
    return {var.name: var for var in container_env(docs, container)}


def settings_class(service: str) -> type[ServiceSettings] | None:
    """chore_<service>.settings' ServiceSettings subclass, or None when not built yet."""
    try:
        module = importlib.import_module(f"chore_{service}.settings")
    except ModuleNotFoundError:
        return None
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, ServiceSettings)
            and value is not ServiceSettings
            and value.__module__ == module.__name__
        ):
            return value
    return None


def env_prefix(cls: type[ServiceSettings]) -> str:
    return str(cls.model_config.get("env_prefix", ""))


def prestop_sleep_s(container: Doc) -> float:
    """Seconds the preStop hook sleeps (exec `sleep N` or the native sleep action)."""
    pre = container.get("lifecycle", {}).get("preStop")
    if not pre:
        return 0.0
    if "sleep" in pre:
        return float(pre["sleep"]["seconds"])
    command = pre.get("exec", {}).get("command", [])
    if len(command) == 2 and command[0] == "sleep":
        return float(command[1])
    return 0.0


def termination_budget_s(deployment: Doc) -> float:
    """What the process itself has after SIGTERM: terminationGracePeriodSeconds - preStop."""
    grace = float(pod_spec(deployment).get("terminationGracePeriodSeconds", 30))
    return grace - prestop_sleep_s(main_container(deployment))
