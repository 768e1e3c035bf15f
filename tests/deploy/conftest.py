"""Rendered overlays, once per session; skipped with a reason where kubectl is absent."""

from __future__ import annotations

import pytest

from .manifests import OVERLAYS, Doc, kubectl, render


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Doc]]:
    if kubectl() is None:
        pytest.skip("kubectl is not installed: the Kustomize overlays cannot be rendered")
    return {overlay: render(overlay) for overlay in OVERLAYS}
