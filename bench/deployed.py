"""The configuration every bench server runs with: the one production runs.

Tracing is what the prod overlay sets (`deploy/k8s/overlays/prod`: a parent-based ratio
sampler, OTLP over HTTP/protobuf), and the spans really leave each server: they go to an
OTLP/HTTP receiver this (suite) process starts on first use, which counts what it gets. The
runner adds a `<suite>.spans_exported` figure to every suite that started a server, with a
target of more than none: a broken export fails the bench instead of flattering it.
"""

from __future__ import annotations

import atexit
import os
import time
from pathlib import Path
from typing import Any

import yaml

from bench.figures import Description, Figure
from chore_common.testing.otlp import OtlpReceiver

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "deploy" / "k8s" / "base"
PROD = ROOT / "deploy" / "k8s" / "overlays" / "prod" / "kustomization.yaml"
TRACING_VARS = ("OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_EXPORTER_OTLP_PROTOCOL")

_receiver: list[OtlpReceiver] = []

SPANS_DESCRIPTION = Description(
    measures="Spans the suite's servers exported over OTLP/HTTP, with the prod overlay's"
    " tracing, to the receiver the bench starts (its target: more than none). It shows that"
    " the figures beside it were measured with the export on.",
    ceiling="",
    limits="The prod sampler's ratio: only sampled traces are recorded and exported, so the"
    " count follows the requests the suite made; a request not sampled gets a"
    " non-recording span.",
)


def _literals(kustomization: Path, config: str) -> dict[str, str]:
    """`KEY=value` literals of the configMapGenerator entry named `config`."""
    doc: dict[str, Any] = yaml.safe_load(kustomization.read_text())
    found: dict[str, str] = {}
    for generator in doc.get("configMapGenerator", []):
        if generator.get("name") == config:
            for literal in generator.get("literals", []):
                key, _, value = str(literal).partition("=")
                found[key.strip()] = value.split("#", 1)[0].strip()
    return found


def prod_tracing(service: str = "tasks") -> dict[str, str]:
    """The OTEL_* tracing variables `service` gets in the prod overlay (base, then prod's)."""
    config = f"{service}-config"
    merged = {**_literals(BASE / service / "kustomization.yaml", config)}
    merged.update(_literals(PROD, config))
    return {k: merged[k] for k in TRACING_VARS if k in merged}


def receiver() -> OtlpReceiver:
    """This process's OTLP receiver, started on first use and stopped at exit."""
    if not _receiver:
        started = OtlpReceiver().__enter__()
        atexit.register(started.__exit__, None, None, None)
        _receiver.append(started)
    return _receiver[0]


def tracing_env(service: str = "tasks") -> dict[str, str]:
    """Environment for a bench server: prod's sampler, exporting to the receiver."""
    return {
        "OTEL_SDK_DISABLED": "false",
        "OTEL_TRACES_EXPORTER": "otlp",
        **prod_tracing(service),
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver().endpoint,
    }


def server_env(*own_prefixes: str, service: str = "tasks") -> dict[str, str]:
    """This process's environment without any `OTEL_*` (or `own_prefixes`, the server's own
    settings) a developer may have set, plus the deployed tracing."""
    drop = ("OTEL_", *own_prefixes)
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(tracing_env(service))
    return env


def spans_figure(suite: str, settle_s: float = 2.0) -> Figure | None:
    """What the receiver got from this suite's servers (None when none was started). The
    servers flush their last batch as they stop; a moment is left for it to arrive."""
    if not _receiver:
        return None
    got = _receiver[0]
    deadline = time.monotonic() + settle_s
    while not got.spans and time.monotonic() < deadline:
        time.sleep(0.1)
    tracing = prod_tracing()
    return Figure(
        name=f"{suite}.spans_exported",
        value=float(len(got.spans)),
        unit="spans",
        target="value > 0",
        note=(
            f"servers ran with the prod overlay's tracing ({tracing.get('OTEL_TRACES_SAMPLER')}"
            f" {tracing.get('OTEL_TRACES_SAMPLER_ARG')}), exporting OTLP/HTTP to the bench's"
            f" receiver: {got.requests} export requests"
        ),
    )
