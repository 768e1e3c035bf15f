"""Private parts of the libraries the platform stands on stay inside one module each.

prometheus_client, aiosqlite, SQLAlchemy and OpenTelemetry are used through their public
APIs everywhere, except in the one module per library whose docstring says why, and whose
library is pinned to the range CI tests (libs/common/pyproject.toml). This walks every
production module and refuses an underscore attribute reached on anything but `self`/`cls`,
and an import of an underscore name or module from those libraries, anywhere else.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [ROOT / "libs" / "common" / "src", *sorted((ROOT / "services").glob("*/src"))]
LIBRARIES = ("prometheus_client", "aiosqlite", "sqlalchemy", "opentelemetry", "aiohttp")

# The one module per library allowed its private parts, and why (its docstring says more).
ALLOWED = {
    # A dialect on SQLAlchemy's aiosqlite adapter and aiosqlite's connection thread.
    "libs/common/src/chore_common/db/sqlite_driver.py",
    # aiohttp's server protocol (head timeout, problem+json parse errors), its client retry.
    "services/gateway/src/chore_gateway/adapters/protocol.py",
}
# Underscore names that are public API: SQLAlchemy's Row, the namedtuple protocol, os._exit.
PUBLIC_UNDERSCORE = frozenset(
    {"_mapping", "_asdict", "_fields", "_replace", "_make", "_t", "_exit"}
)


def production_modules() -> list[Path]:
    return [path for base in SOURCES for path in sorted(base.rglob("*.py"))]


def private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = node.attr
            owner = node.value
            private = name.startswith("_") and not name.startswith("__")
            on_self = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
            if private and not on_self and name not in PUBLIC_UNDERSCORE:
                found.append(f"{path.name}:{node.lineno} .{name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] not in LIBRARIES:
                continue
            parts = [*node.module.split("."), *(alias.name for alias in node.names)]
            if any(p.startswith("_") and not p.startswith("__") for p in parts):
                found.append(f"{path.name}:{node.lineno} from {node.module} import ...")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in LIBRARIES and any(p.startswith("_") for p in parts):
                    found.append(f"{path.name}:{node.lineno} import {alias.name}")
    return found


def test_private_library_parts_appear_only_in_their_one_module() -> None:
    offenders = {}
    for path in production_modules():
        if any(path.as_posix().endswith(allowed) for allowed in ALLOWED):
            continue
        uses = private_uses(path)
        if uses:
            offenders[str(path.relative_to(ROOT))] = uses
    assert offenders == {}


@pytest.mark.parametrize("allowed", sorted(ALLOWED))
def test_each_allowed_module_exists_and_says_why(allowed: str) -> None:
    path = ROOT / allowed
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert private_uses(path), f"{allowed} no longer needs its exception: remove it"
    assert len(docstring) > 200, f"{allowed} must say why it reaches into a library"


def test_the_check_sees_a_private_attribute(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import prometheus_client\nvalue = counter._value\n")
    assert private_uses(sample) == ["sample.py:2 ._value"]
