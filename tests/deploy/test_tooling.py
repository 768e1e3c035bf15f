"""The offline validators `make k8s-validate` runs, each shown to pass on our files and to fail
on a broken copy: Kubernetes schemas (strict, pinned version), hadolint, the compose-spec
schema, and nats-server's own config check."""

from __future__ import annotations

import base64
import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chore_common.testing.nats import nats_server_binary

from .manifests import K8S_VERSION, OVERLAYS, ROOT, SERVICES, Doc, dump, find, settings_class
from .policy import OTEL_VARS

BIN = Path(sys.executable).parent
DOCKERFILES = sorted((ROOT / "deploy" / "docker").glob("Dockerfile*"))
COMPOSE = ROOT / "docker-compose.yml"


def _run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _kubernetes_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return _run(BIN / "kubernetes-validate", "--strict", "-k", K8S_VERSION, "--quiet", path)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_matches_the_kubernetes_schemas(
    rendered: dict[str, list[Doc]], overlay: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{overlay}.yaml"
    path.write_text(dump(rendered[overlay]))
    result = _kubernetes_validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_validation_rejects_an_unknown_field(
    rendered: dict[str, list[Doc]], tmp_path: Path
) -> None:
    docs = copy.deepcopy(rendered["dev"])
    find(docs, "Deployment", "tasks")[0]["spec"]["template"]["spec"]["terminationGracePeriod"] = 30
    path = tmp_path / "bad.yaml"
    path.write_text(dump(docs))
    result = _kubernetes_validate(path)
    assert result.returncode != 0
    assert "terminationGracePeriod" in result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_passes(dockerfile: Path) -> None:
    result = _run(BIN / "hadolint", dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_an_unpinned_base(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text('FROM python:latest\nRUN pip install uv\nCMD ["python"]\n')
    result = _run(BIN / "hadolint", bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag
    assert "DL3013" in result.stdout  # unpinned pip install


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_image_is_small_pinned_and_non_root(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base, "the base image is one pinned build argument"
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base[1]), base[1]
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) >= 2, "multi-stage: the build tools stay in the build stage"
    final = stages[-1]
    assert re.search(r"^USER 10001(:10001)?$", final, re.M), "the final stage runs as uid 10001"
    assert "HEALTHCHECK" in final
    assert "uv sync --frozen" in text, "built from uv.lock, exactly"
    assert not re.search(r"^(RUN|COPY).*\buv\b", final, re.M), "no uv in the final image"
    assert not re.search(r"^(ARG|ENV) .*(SECRET|PASSWORD|TOKEN)", text, re.M | re.I)


def test_dockerignore_keeps_secrets_and_state_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in lines, "deny by default, then list what the build needs"
    for needed in ("**/*.pem", "**/.env", "**/*.db"):
        assert needed in lines


def _compose_check(path: Path) -> subprocess.CompletedProcess[str]:
    return _run(BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", path)


def test_compose_file_matches_the_compose_spec() -> None:
    result = _compose_check(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_check_rejects_a_broken_file(tmp_path: Path) -> None:
    data = yaml.safe_load(COMPOSE.read_text())
    data["services"]["tasks"]["depends_on"]["nats"]["condition"] = "service_ready"
    bad = tmp_path / "docker-compose.yml"
    bad.write_text(yaml.safe_dump(data))
    result = _compose_check(bad)
    assert result.returncode != 0, result.stdout


def test_compose_stack_is_complete_and_ordered() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for needed in ("postgres", "nats", "otel-collector", "prometheus", *SERVICES):
        assert needed in services
    for name in SERVICES:
        assert services[name]["depends_on"], name
        assert "healthcheck" in services[name], name
        assert services[name]["read_only"] is True
        assert services[name]["user"] == "10001:10001"
    for name in ("auth", "tasks", "messaging"):
        assert services[name]["depends_on"][f"{name}-migrate"] == {
            "condition": "service_completed_successfully"
        }


@pytest.mark.parametrize("service", SERVICES)
def test_compose_env_names_are_settings(service: str) -> None:
    cls = settings_class(service)
    if cls is None:
        pytest.skip(f"chore_{service} is not built yet")
    prefix = str(cls.model_config.get("env_prefix", ""))
    fields = {f"{prefix}{name}".upper() for name in cls.model_fields}
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name in (service, f"{service}-migrate"):
        for var in services.get(name, {}).get("environment", {}):
            assert var in fields or var in OTEL_VARS, f"{name}: {var} is not a setting"


_INTERPOLATED = re.compile(r"\$\{(\w+):-([^}]*)\}")  # ${NAME:-default}, all the file uses


def _compose_env(name: str, shell: dict[str, str]) -> dict[str, str]:
    """Compose service `name`'s environment as compose hands it over with `shell` set."""
    environment = yaml.safe_load(COMPOSE.read_text())["services"][name]["environment"]
    passed = {var: value for var, value in environment.items() if value is not None}
    # A name without a value is passed on from the shell, or left out when not set there.
    passed |= {
        var: shell[var] for var, value in environment.items() if value is None and var in shell
    }
    return {
        var: _INTERPOLATED.sub(lambda m: shell.get(m[1], m[2]), str(value))
        for var, value in passed.items()
    }


@pytest.mark.parametrize("service", SERVICES)
def test_compose_env_values_pass_the_settings_validation(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls = settings_class(service)
    if cls is None:
        pytest.skip(f"chore_{service} is not built yet")
    for var, value in _compose_env(service, {}).items():
        if var not in OTEL_VARS:
            monkeypatch.setenv(var, value)
    cls()  # as the container reads them: a ValidationError fails the test


@pytest.mark.parametrize(
    ("shell", "host", "port", "tls", "login"),
    [
        # Nothing named: an address that never resolves (mail waits in the queue, retried),
        # not the setting's default 127.0.0.1, where nothing listens in the container.
        ({}, "smtp.invalid", 25, "auto", ""),
        # docs/deploy.md "Mail from compose": the dev SMTP sink run on the host, a relay.
        (
            {"MESSAGING_SMTP_HOST": "host.docker.internal", "MESSAGING_SMTP_PORT": "2525",
             "MESSAGING_SMTP_TLS": "none"},
            "host.docker.internal", 2525, "none", "",
        ),
        (
            {"MESSAGING_SMTP_HOST": "smtp.example.com", "MESSAGING_SMTP_PORT": "587",
             "MESSAGING_SMTP_USERNAME": "chore", "MESSAGING_SMTP_PASSWORD": "pw"},
            "smtp.example.com", 587, "auto", "chore",
        ),
    ],
)  # fmt: skip
def test_compose_mail_goes_to_the_smtp_server_the_shell_names(
    shell: dict[str, str],
    host: str,
    port: int,
    tls: str,
    login: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cls = settings_class("messaging")
    if cls is None:
        pytest.skip("chore_messaging is not built yet")
    for var in [v for v in os.environ if v.startswith("MESSAGING_")]:
        monkeypatch.delenv(var)
    for var, value in _compose_env("messaging", shell).items():
        monkeypatch.setenv(var, value)
    settings: Any = cls()
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == (host, port, tls)
    assert settings.smtp_username == login
    assert settings.smtp_password.get_secret_value() == shell.get("MESSAGING_SMTP_PASSWORD", "")
    assert settings.mail_app_url == "http://127.0.0.1:8080"  # the gateway's published port
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert "127.0.0.1:8080:8080" in services["gateway"]["ports"]
    assert "host.docker.internal:host-gateway" in services["messaging"]["extra_hosts"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_config_is_accepted_by_nats_server(
    rendered: dict[str, list[Doc]], overlay: str, tmp_path: Path
) -> None:
    """nats-server -t parses the rendered config (includes and all), as the pods will."""
    config = next(
        cm for cm in find(rendered[overlay], "ConfigMap")
        if cm["metadata"]["name"].startswith("nats-config")
    )  # fmt: skip
    for name, text in config["data"].items():
        # The store lives on the pod's volume; here, in a temp dir.
        (tmp_path / name).write_text(text.replace("store_dir: /data", f"store_dir: {tmp_path}"))
    pid_free = (
        (tmp_path / "nats.conf")
        .read_text()
        .replace("/var/run/nats/nats.pid", str(tmp_path / "pid"))
    )
    (tmp_path / "nats.conf").write_text(pid_free)
    env = {**os.environ, "POD_NAME": "nats-0"}
    result = subprocess.run(
        [nats_server_binary(), "-c", str(tmp_path / "nats.conf"), "-t"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    if overlay == "prod":
        assert "sync_interval: always" in config["data"]["jetstream.conf"]


def test_dev_secrets_are_passwordless(rendered: dict[str, list[Doc]]) -> None:
    for secret in find(rendered["dev"], "Secret"):
        if secret["metadata"]["name"].startswith("chore-smtp"):
            # No relay in dev, so no login: only where a relay would be.
            assert set(secret.get("data", {})) == {"host", "port"}
            continue
        for value in secret.get("data", {}).values():
            url = base64.b64decode(value).decode()
            assert re.fullmatch(r"postgresql\+asyncpg://postgres@postgres:5432/\w+", url), url
