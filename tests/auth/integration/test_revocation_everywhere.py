"""S3: refresh-token reuse revokes the session, and a *second process* that verifies tokens
with the common verifier (JWKS + NATS revocations) refuses its access token within 1 s."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from chore_common.testing.nats import NatsServer, free_port

from .helpers import Client, bearer, login, register

pytestmark = pytest.mark.db

SCRIPT = Path(__file__).with_name("verifier_process.py")


@pytest.fixture
async def auth(start_auth: Callable[..., Awaitable[Client]]) -> Client:
    return await start_auth(refresh_reuse_grace_s=0)


@asynccontextmanager
async def verifying_process(auth: Client, nats_url: str, log: Path) -> AsyncIterator[str]:
    """Start verifier_process.py; yields its base URL once it printed "ready"."""
    port = free_port()
    jwks = f"http://127.0.0.1:{auth.port}/auth/.well-known/jwks.json"
    args = ["--port", str(port), "--jwks", jwks, "--nats", nats_url]
    out = await asyncio.to_thread(log.open, "w")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), *args, stdout=out, stderr=out
    )
    try:
        deadline = time.monotonic() + 20
        while "ready" not in (await asyncio.to_thread(log.read_text)).splitlines():
            assert proc.returncode is None, "verifier process exited"
            assert time.monotonic() < deadline, "verifier process did not start"
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
        out.close()


@pytest.fixture
async def other_service(
    auth: Client, nats_server: NatsServer, tmp_path: Path
) -> AsyncIterator[str]:
    async with verifying_process(auth, nats_server.url, tmp_path / "verifier.log") as url:
        yield url


async def test_refresh_reuse_is_refused_by_another_process_within_a_second(
    auth: Client, other_service: str, record_property: Callable[[str, object], None]
) -> None:
    account = await register(auth)
    stolen = await login(auth, account)
    fresh = await (
        await auth.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    ).json()
    async with aiohttp.ClientSession() as http:
        whoami = f"{other_service}/whoami"
        async with http.get(whoami, headers=bearer(fresh["access_token"])) as resp:
            assert resp.status == 200
            assert (await resp.json())["user_id"] == account.id

        started = time.monotonic()
        reuse = await auth.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
        assert reuse.status == 401
        while True:
            async with http.get(whoami, headers=bearer(fresh["access_token"])) as resp:
                if resp.status == 401:
                    body = await resp.json()
                    break
                assert resp.status == 200
            assert time.monotonic() - started < 5, "still accepted after 5 s"
            await asyncio.sleep(0.01)
        elapsed = time.monotonic() - started
    record_property("revocation_seconds", round(elapsed, 3))
    print(f"\nS3: refused by the second process {elapsed * 1000:.0f} ms after the reuse")
    assert body["code"] == "session_revoked"
    assert elapsed < 1.0


async def test_a_process_started_after_a_logout_still_refuses_that_session(
    auth: Client, nats_server: NatsServer, tmp_path: Path
) -> None:
    account = await register(auth)
    tokens = await login(auth, account)
    assert (await auth.post("/auth/logout", headers=bearer(tokens["access_token"]))).status == 204
    await asyncio.sleep(0.3)  # let the relay publish the event before the process starts
    async with (
        verifying_process(auth, nats_server.url, tmp_path / "verifier.log") as url,
        aiohttp.ClientSession() as http,
        http.get(f"{url}/whoami", headers=bearer(tokens["access_token"])) as resp,
    ):
        assert resp.status == 401
        assert (await resp.json())["code"] == "session_revoked"
