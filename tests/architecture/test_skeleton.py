"""Every service has the shape docs/architecture.md ("Anatomy of a service") draws.

The skeleton and its exceptions are read from that page, so the page and the services
cannot drift apart: a file at a service's root that the page does not name, a folder
missing a file every service has, or an exception nobody needs any more all fail here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
SERVICES = ("auth", "tasks", "messaging", "gateway")


@dataclass(frozen=True)
class Skeleton:
    required: frozenset[str]  # paths relative to the package, folders end in "/"
    optional: frozenset[str]
    open_folders: frozenset[str]  # folders that may hold modules the page does not name


def fenced(kind: str) -> str:
    match = re.search(rf"```{kind}\n(.*?)```", DOC.read_text(), flags=re.S)
    assert match, f"docs/architecture.md has no ```{kind} block"
    return match.group(1)


def documented_skeleton() -> Skeleton:
    required, optional, open_folders = set(), set(), set()
    folder = ""
    for line in fenced("skeleton").splitlines()[1:]:  # the first line is the package itself
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip())) // 4
        name = line.split()[0]
        prefix = folder if depth == 2 else ""
        if name == "*":
            open_folders.add(prefix)
            continue
        path = prefix + name.rstrip("?")
        (optional if name.endswith("?") else required).add(path)
        if path.endswith("/"):
            folder = path
    return Skeleton(frozenset(required), frozenset(optional), frozenset(open_folders))


def documented_exceptions() -> dict[str, tuple[set[str], set[str]]]:
    exceptions: dict[str, tuple[set[str], set[str]]] = {}
    for line in fenced("skeleton-exceptions").splitlines():
        service, _, entries = line.partition(":")
        without = {entry[1:] for entry in entries.split() if entry.startswith("-")}
        extra = {entry[1:] for entry in entries.split() if entry.startswith("+")}
        exceptions[service.strip()] = (without, extra)
    return exceptions


def package_tree(service: str) -> set[str]:
    package = ROOT / "services" / service / "src" / f"chore_{service}"
    tree = set()
    for path in package.rglob("*"):
        if "__pycache__" in path.parts or path.suffix not in {".py", ""}:
            continue
        relative = path.relative_to(package).as_posix()
        tree.add(relative + "/" if path.is_dir() else relative)
    return tree


def test_the_page_draws_a_skeleton_and_names_only_real_services() -> None:
    skeleton = documented_skeleton()
    assert {"bootstrap.py", "domain/events.py", "adapters/contracts.py", "api/routes.py"} <= (
        skeleton.required
    )
    assert set(documented_exceptions()) <= set(SERVICES)


def under(path: str, folders: set[str]) -> bool:
    return any(path.startswith(folder) for folder in folders if folder.endswith("/"))


def in_open_folder(path: str, skeleton: Skeleton) -> bool:
    """A module directly inside domain/, usecases/, adapters/ or api/ is the service's own."""
    folder, _, name = path.rpartition("/")
    return (
        bool(folder) and "/" not in folder and bool(name) and folder + "/" in skeleton.open_folders
    )


@pytest.mark.parametrize("service", SERVICES)
def test_service_has_the_documented_shape(service: str) -> None:
    skeleton = documented_skeleton()
    without, extra = documented_exceptions().get(service, (set(), set()))
    tree = package_tree(service)

    expected = {p for p in skeleton.required - without if not under(p, without)} | extra
    missing = sorted(expected - tree)
    assert not missing, f"{service} lacks what the skeleton has: {missing}"

    undrawn = tree - expected - skeleton.optional
    unexpected = sorted(p for p in undrawn if not in_open_folder(p, skeleton))
    assert not unexpected, f"{service} has what the skeleton does not draw: {unexpected}"

    stale = sorted(without & tree)
    assert not stale, f"{service}'s documented exceptions no longer hold: {stale}"
