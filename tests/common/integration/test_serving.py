"""A served process (`python -m chore_common.testing.demo_app`): start, scale, stop."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from common.served import Served

from chore_common.serving import STOP_CLEANUP_S


@pytest.fixture
def served() -> Iterator[Served]:
    server = Served(DEMO_SHUTDOWN_GRACE_S="10")
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except ConnectionRefusedError:
        return True


def test_sigterm_finishes_the_in_flight_request_refuses_new_ones_and_exits_0(
    served: Served,
) -> None:
    served.wait_ready()
    result: dict[str, Any] = {}

    def slow_call() -> None:
        result["reply"] = served.get("/slow?seconds=1.5")

    caller = threading.Thread(target=slow_call)
    caller.start()
    time.sleep(0.4)  # the slow request is being handled
    served.process.send_signal(signal.SIGTERM)

    deadline = time.monotonic() + 1.0
    while not refused(served.port):
        assert time.monotonic() < deadline, "still accepting connections after SIGTERM"
        time.sleep(0.02)
    assert served.process.poll() is None  # still draining the slow request

    caller.join(timeout=10)
    assert result["reply"] == (200, {"slept": 1.5})
    code, out, err = served.wait()
    assert code == 0, err
    events = [json.loads(line)["event"] for line in out.splitlines()]
    assert events.index("service.started") < events.index("service.stopping")
    assert events[-1] == "service.stopped"
    started = next(json.loads(line) for line in out.splitlines() if "service.started" in line)
    assert started["url"] == served.url
    # What lived at start-up is out of the collector's sight (modules alone are thousands).
    assert started["gc_frozen"] > 1000


def test_a_request_on_a_kept_alive_connection_right_after_sigterm_is_answered() -> None:
    server = Served(DEMO_SHUTDOWN_DRAIN_S="1.0")
    try:
        server.wait_ready()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/healthz")
        first = conn.getresponse()
        first.read()
        assert first.getheader("Connection", "").lower() != "close"  # kept alive
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)  # the server is stopping; this connection is idle from its side
        conn.request("GET", "/items")
        second = conn.getresponse()
        assert second.status == 200
        second.read()
        # ... and the client is told to leave, so nothing is sent on it as the listener closes.
        assert second.getheader("Connection", "").lower() == "close"
        conn.close()
        code, _, err = server.wait()
        assert code == 0, err
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def test_a_10_kb_request_id_is_replaced_by_the_served_process(served: Served) -> None:
    served.wait_ready()
    status, headers, _ = served.request("/healthz", headers={"X-Request-ID": "a" * 10_240})
    assert status == 200
    assert len(headers["X-Request-ID"]) == 32


def test_a_bad_setting_fails_start_with_one_line_naming_the_variable() -> None:
    server = Served(DEMO_WORKERS="lots")
    code, _, err = server.wait()
    assert code != 0
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1
    assert "DEMO_WORKERS" in lines[0]
    assert "Traceback" not in err


@pytest.mark.slow
def test_two_workers_share_one_port_and_metrics_add_up_across_them() -> None:
    server = Served(DEMO_WORKERS="2", DEMO_SHUTDOWN_GRACE_S="5")
    try:
        server.wait_ready()
        pids = set()
        deadline = time.monotonic() + 20
        calls = 0
        while len(pids) < 2 and time.monotonic() < deadline:
            status, body = server.get("/pid")  # a new connection each time
            assert status == 200
            pids.add(body["pid"])
            calls += 1
        assert len(pids) == 2, "every connection went to the same worker"
        for _ in range(3):  # /metrics may be served by either worker; both must agree
            _, text = server.get("/metrics")
            lines = [
                line
                for line in text.splitlines()
                if line.startswith("http_requests_total{") and 'route="/pid"' in line
            ]
            assert len(lines) == 1
            assert lines[0].endswith(f" {float(calls)}")
    finally:
        code, out, err = server.stop()
    assert code == 0, err
    assert out.count('"event":"service.stopped"') == 3  # two workers and the supervisor


# Tracing from the standard OTEL_* variables, seen from outside a served process.

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def call(server: Served, path: str) -> None:
    server.request(path, headers={"traceparent": f"00-{TRACE_ID}-{PARENT}-01"})


def test_console_exporter_prints_a_server_span_named_by_route_under_the_callers_trace() -> None:
    server = Served(OTEL_TRACES_EXPORTER="console")
    try:
        server.wait_ready()
        call(server, "/items/42")
    finally:
        code, out, err = server.stop()
    assert code == 0, err
    assert '"name": "GET /items/{id}"' in out
    assert f'"trace_id": "0x{TRACE_ID}"' in out
    assert f'"parent_id": "0x{PARENT}"' in out
    assert '"http.route": "/items/{id}"' in out
    assert '"http.response.status_code": 404' in out


def test_sdk_disabled_means_no_trace_ids_in_logs() -> None:
    server = Served(OTEL_SDK_DISABLED="true")
    try:
        server.wait_ready()
        call(server, "/items/42")  # a probe's access line is left out (ACCESS_LOG_PROBES)
    finally:
        code, out, err = server.stop()
    assert code == 0, err
    access = [json.loads(line) for line in out.splitlines() if '"http.request"' in line]
    assert access
    assert all("trace_id" not in line for line in access)


# The access log of probes: off by default, a setting turns it on.


def access_paths(out: str) -> list[str]:
    return [json.loads(line)["path"] for line in out.splitlines() if '"http.request"' in line]


@pytest.mark.parametrize("setting", [None, "true"])
def test_probes_are_access_logged_only_when_they_fail_unless_asked(setting: str | None) -> None:
    server = Served(**({"DEMO_ACCESS_LOG_PROBES": setting} if setting else {}))
    try:
        server.wait_ready()  # /healthz until it answers
        for path in ("/healthz", "/readyz", "/metrics", "/items/42"):
            server.request(path)
    finally:
        code, out, err = server.stop()
    assert code == 0, err
    paths = access_paths(out)
    if setting is None:
        assert not {"/healthz", "/readyz", "/metrics"} & set(paths), paths
        assert "/items/42" in paths
    else:
        assert {"/healthz", "/readyz", "/metrics", "/items/42"} <= set(paths), paths


def test_a_failing_probe_is_access_logged() -> None:
    server = Served(DEMO_SHUTDOWN_DRAIN_S="1.0")
    try:
        server.wait_ready()
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # draining: /readyz answers 503 so that traffic moves elsewhere
        status, _, _ = server.request("/readyz")
    finally:
        code, out, err = server.stop()
    assert status == 503
    assert code == 0, err
    assert access_paths(out) == ["/readyz"]


# A stop is bounded, whatever hangs, and workers do not outlive their supervisor.

HANGS_ON_STOP = """
import asyncio

from chore_common.serving import main
from chore_common.testing.demo_app import DemoSettings, create_app as demo_app


async def cleanup_that_never_ends(app):
    yield
    await asyncio.Event().wait()


def create_app(settings):
    app = demo_app(settings)
    app.cleanup_ctx.append(cleanup_that_never_ends)
    return app


main(DemoSettings, create_app)
"""


def test_a_stop_that_hangs_is_ended_at_its_deadline_with_exit_1() -> None:
    server = Served(HANGS_ON_STOP, DEMO_SHUTDOWN_DRAIN_S="0", DEMO_SHUTDOWN_GRACE_S="0.5")
    try:
        server.wait_ready()
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=30)
        took = time.monotonic() - signalled
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
    out, _ = server.output()
    deadline = 0.5 + STOP_CLEANUP_S  # drain + grace + cleanup allowance
    assert code == 1
    overran = [json.loads(line) for line in out.splitlines() if "service.stop_overran" in line]
    assert [line["limit_s"] for line in overran] == [deadline]
    assert deadline <= took < deadline + 2.0, took


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_end_when_their_supervisor_is_killed() -> None:
    server = Served(DEMO_WORKERS="2")
    workers: set[int] = set()
    try:
        server.wait_ready()
        deadline = time.monotonic() + 20
        while len(workers) < 2 and time.monotonic() < deadline:
            workers.add(server.get("/pid")[1]["pid"])  # a new connection each time
        assert len(workers) == 2
        server.process.kill()  # SIGKILL: the supervisor forwards nothing
        server.process.wait()
        gone_by = time.monotonic() + 5.0
        while any(alive(pid) for pid in workers) and time.monotonic() < gone_by:
            time.sleep(0.1)
        assert [pid for pid in workers if alive(pid)] == []
    finally:
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
