"""Domain code imports the standard library, the kit's errors, contracts and report rules, its
own domain.

import-linter forbids the big ones by name (aiohttp, SQLAlchemy, NATS, OpenTelemetry...);
this test is the allow-list behind it, so a module added to the kit later is refused
too until the page on the skeleton (docs/architecture.md) says otherwise.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("auth", "tasks", "messaging", "gateway")
KIT_ALLOWED = ("chore_common.errors", "chore_common.contracts", "chore_common.reports.rules")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def allowed(module: str, service: str) -> bool:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top == "__future__":
        return True
    own = f"chore_{service}.domain"
    return any(module == ok or module.startswith(ok + ".") for ok in (*KIT_ALLOWED, own))


@pytest.mark.parametrize("service", SERVICES)
def test_domain_imports_only_what_the_skeleton_allows(service: str) -> None:
    domain = ROOT / "services" / service / "src" / f"chore_{service}" / "domain"
    modules = sorted(domain.rglob("*.py"))
    assert modules, f"{service} has no domain package"
    refused = sorted(
        f"{path.name}: {name}"
        for path in modules
        for name in imported_modules(path)
        if not allowed(name, service)
    )
    assert refused == []


def test_the_allow_list_refuses_the_kit_s_infrastructure() -> None:
    assert not allowed("chore_common.telemetry.tracing", "tasks")
    assert not allowed("chore_common.db", "tasks")
    assert not allowed("opentelemetry.trace", "tasks")
    assert not allowed("chore_auth.domain.model", "tasks")
    assert allowed("chore_common.errors", "tasks")
    assert allowed("chore_common.reports.rules", "tasks")
    assert not allowed("chore_common.reports.routes", "tasks")
    assert allowed("dataclasses", "tasks")
