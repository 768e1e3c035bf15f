"""Schemathesis against every service's OpenAPI document, through the gateway of a
platform started for it, for a bounded time: not one 5xx.

Each document is fuzzed for `FUZZ_SECONDS` (CI's short budget by default; `make fuzz` sets a
longer one) in all of schemathesis' phases: examples, coverage (boundary and invalid
values), fuzzing, and stateful sequences over the links it infers (a created task's id, from
the response or its Location header, feeds the operations on that task). Operations are
sent with the token of the role that may call them (fuzz_auth.py). Two independent views
must agree: schemathesis' `not_a_server_error` check fails no case, and the gateway's own
metrics count no 5xx answer while it ran.

The fuzzer gets a platform of its own (one replica each): its failed logins trip auth's
login throttle for the address every test comes from, and its junk fills every list; the
other system tests must see neither. Its accounts sign in once, before any fuzzing.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .helpers import RunningPlatform, demo, launch_platform

SERVICES = ("auth", "tasks", "messaging")
FUZZ_SECONDS = int(os.environ.get("FUZZ_SECONDS", "15"))
HOOKS = Path(__file__).with_name("fuzz_auth.py")

pytestmark = [pytest.mark.system, pytest.mark.timeout(FUZZ_SECONDS * 2 + 240)]


def _post(base: str, path: str, body: dict[str, Any]) -> Any:
    # S310: the URL is the gateway this test started, never a file: or other scheme.
    request = urllib.request.Request(  # noqa: S310
        f"{base}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, db_backend: str) -> Iterator[RunningPlatform]:
    with launch_platform(tmp_path_factory.mktemp("fuzz") / "var", db_backend, 1) as running:
        yield running


@pytest.fixture(scope="module")
def accounts(fuzzed: RunningPlatform) -> dict[str, Any]:
    """One account per role, signed in: {role: {"access_token", "refresh_token", ...}}."""
    signed_in: dict[str, Any] = {}
    tag = uuid.uuid4().hex[:10]
    for role, kind in (("client", "client"), ("tasker", "tasker"), ("spare", "client")):
        email = f"fuzz-{role}+{tag}@example.com"
        account = {"email": email, "password": demo.PASSWORD, "name": role, "role": kind}
        _post(fuzzed.url, "/auth/register", account)
        login = {"email": email, "password": demo.PASSWORD}
        signed_in[role] = _post(fuzzed.url, "/auth/login", login)
    admin = json.loads((fuzzed.var_dir / "admin.json").read_text())
    signed_in["admin"] = _post(fuzzed.url, "/auth/login", admin)
    return signed_in


async def server_errors(session: aiohttp.ClientSession, metrics_url: str) -> dict[str, float]:
    """The gateway's count of 5xx answers by (method route status), readiness probes aside."""
    async with session.get(metrics_url) as response:
        assert response.status == 200
        text = await response.text()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = s.labels
            if (
                s.name == "http_requests_total"
                and labels["status"].startswith("5")
                and labels["route"] != "/readyz"
            ):
                key = f"{labels['method']} {labels['route']} {labels['status']}"
                counts[key] = counts.get(key, 0.0) + s.value
    return counts


def run_schemathesis(base: str, service: str, accounts: dict[str, Any], out: Path) -> Any:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{base}/docs/{service}.json",
        "--url", base,
        "--checks", "not_a_server_error",
        "--max-time", str(FUZZ_SECONDS),
        # One worker: hypothesis reads strategies' source with `ast`, which is not
        # thread-safe on Python 3.11 (a worker thread died of it once).
        "--workers", "1",
        "--request-timeout", "10",
        "--report", "json", "--report-dir", str(out),
        "--no-color",
    ]  # fmt: skip
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "FUZZ_GATEWAY": base,
        "FUZZ_ACCOUNTS": json.dumps(accounts),
    }
    done = subprocess.run(
        command, env=env, cwd=out, capture_output=True, text=True, timeout=FUZZ_SECONDS + 100
    )
    reports = sorted(out.glob("json-*.json"))
    assert reports, f"schemathesis wrote no report:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    report = json.loads(reports[-1].read_text())
    report["console"] = done.stdout
    return report


@pytest.mark.parametrize("service", SERVICES)
async def test_schemathesis_finds_no_server_error(
    fuzzed: RunningPlatform,
    accounts: dict[str, Any],
    session: aiohttp.ClientSession,
    tmp_path: Path,
    service: str,
) -> None:
    before = await server_errors(session, fuzzed.metrics_url())
    report = await asyncio.to_thread(run_schemathesis, fuzzed.url, service, accounts, tmp_path)
    after = await server_errors(session, fuzzed.metrics_url())

    operations, cases = report["operations"], report["test_cases"]
    print(
        f"\nfuzz {service}: {operations['tested']}/{operations['total']} operations, "
        f"{cases['generated']} cases in {report['running_time']:.0f} s, "
        f"{cases['with_failures']} failing, stateful: {report['phases']['stateful']['status']}"
    )
    assert not report["failures"], report["console"][-6000:]
    # Errors talking to the API (a dropped connection, a timeout) count against it; the
    # fuzzer's own crashes ("Runtime Error") do not, but are shown.
    api_errors = [e for e in report["errors"] if e.get("title") != "Runtime Error"]
    assert not api_errors, report["console"][-6000:]
    if report["errors"]:
        print(f"schemathesis' own errors: {report['errors']}")
    assert operations["tested"] == operations["total"] > 0
    assert cases["generated"] > 0
    grown = {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}
    assert not grown, grown
