"""docs/asyncapi.yaml is generated from the contracts and must be current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from chore_common.contracts import registered
from chore_common.contracts.asyncapi import main, render

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "asyncapi.yaml"


def test_committed_asyncapi_document_matches_the_contracts() -> None:
    assert COMMITTED.read_text() == render(), "run `make asyncapi` and commit docs/asyncapi.yaml"


def test_document_is_asyncapi_3_with_a_channel_and_message_per_contract() -> None:
    doc = yaml.safe_load(render())
    assert doc["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert addresses == {c.TYPE for c in registered()}
    for contract in registered():
        message = doc["components"]["messages"][contract.__name__]
        assert message["name"] == contract.TYPE
        envelope = doc["components"]["schemas"][f"{contract.__name__}Envelope"]
        assert envelope["properties"]["version"]["const"] == contract.VERSION
        assert contract.__name__ in doc["components"]["schemas"]
    assert len(doc["operations"]) == len(registered())


def test_check_fails_on_a_stale_file_and_passes_on_a_fresh_one(tmp_path: Path) -> None:
    target = tmp_path / "asyncapi.yaml"
    target.write_text("asyncapi: 3.0.0\n")
    assert main(["--check", str(target)]) == 1
    assert main(["--write", str(target)]) == 0
    assert main(["--check", str(target)]) == 0


def test_generator_runs_as_a_module_like_make_asyncapi_check() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chore_common.contracts.asyncapi", "--check", str(COMMITTED)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
