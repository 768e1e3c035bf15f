"""A served process (`python -m chore_common.testing.demo_app`) that tests start and stop."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

from chore_common.testing.nats import free_port


class Served:
    """The demo app in a process of its own, or `code` (a script serving some variant of it)."""

    def __init__(self, code: str | None = None, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the process)
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        run = ["-m", "chore_common.testing.demo_app"] if code is None else ["-c", code]
        self.process = subprocess.Popen(
            [sys.executable, *run],
            env={**os.environ, "DEMO_PORT": str(self.port), **env},
            # Files, not pipes: nobody reads while it runs, and a full pipe would block it.
            stdout=self._out,
            stderr=self._err,
        )

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()[1][-2000:]
            try:
                if self.request("/healthz", timeout=1)[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("demo app did not come up")

    def request(
        self, path: str, headers: dict[str, str] | None = None, timeout: float = 10.0
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a new connection (so WORKERS>1 may route each one elsewhere)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, Any]:
        status, _, raw = self.request(path, timeout=timeout)
        return status, json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()

    def output(self) -> tuple[str, str]:
        self._out.seek(0)
        self._err.seek(0)
        return self._out.read().decode(), self._err.read().decode()

    def wait(self) -> tuple[int, str, str]:
        code = self.process.wait(timeout=30)
        return (code, *self.output())

    def stop(self) -> tuple[int, str, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait()
