"""No production function reaches 60 lines: past that, a function does several jobs.

Counted from `def` to the last line of the body, docstring included; migrations are
generated and left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "libs" / "common" / "src", *sorted((ROOT / "services").glob("*/src"))]
LIMIT = 60


def long_functions() -> list[str]:
    found = []
    for base in SOURCES:
        for path in sorted(base.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines = (node.end_lineno or node.lineno) - node.lineno + 1
                    if lines >= LIMIT:
                        where = path.relative_to(ROOT).as_posix()
                        found.append(f"{where}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_every_production_function_is_under_sixty_lines() -> None:
    assert long_functions() == []


def test_the_scan_covers_the_kit_and_the_four_services() -> None:
    roots = [base.parent.name for base in SOURCES]
    assert roots == ["common", "auth", "gateway", "messaging", "tasks"]
    assert all(any(base.rglob("*.py")) for base in SOURCES)
