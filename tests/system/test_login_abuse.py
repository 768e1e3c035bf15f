"""Issue 22, item 5, through the gateway on real processes: nobody locks accounts out of
login. Auth throttles by the client's address as the gateway decided it (`X-Real-IP`),
never by the gateway's own address.

Clients on one machine are told apart by their source address: loopback is a /8, so a
socket bound to 127.0.0.66 is another client than one bound to 127.0.0.77. The platform is
this module's own, so the addresses it throttles (for 15 minutes) harm no other test.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from .helpers import RunningPlatform, demo, launch_platform

pytestmark = [pytest.mark.system, pytest.mark.timeout(300)]

ATTACKER, OWNER = "127.0.0.66", "127.0.0.77"


@pytest.fixture(scope="module")
def own_platform(
    tmp_path_factory: pytest.TempPathFactory, db_backend: str
) -> Iterator[RunningPlatform]:
    with launch_platform(tmp_path_factory.mktemp("abuse") / "var", db_backend, 1) as running:
        yield running


@asynccontextmanager
async def client_at(address: str, platform: RunningPlatform) -> AsyncIterator[demo.Api]:
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield demo.Api(session, platform.url)


async def log_in(api: demo.Api, email: str, password: str) -> int:
    async with api.session.post(
        api.url("/auth/login"), json={"email": email, "password": password}
    ) as response:
        await response.read()
        return response.status


async def test_a_hundred_failed_logins_from_one_address_lock_out_that_address_only(
    own_platform: RunningPlatform,
) -> None:
    admin: dict[str, Any] = json.loads((own_platform.var_dir / "admin.json").read_text())
    tag = uuid.uuid4().hex[:8]
    async with client_at(OWNER, own_platform) as owner_api:
        owners = [await demo.sign_up(owner_api, f"Own{i}", "client", tag) for i in range(3)]
    real = [admin["email"], *(o.email for o in owners)]

    async with client_at(ATTACKER, own_platform) as attacker:
        # Every real account five times (each one's limit), then random addresses.
        guesses = [email for email in real for _ in range(5)]
        guesses += [f"nobody-{uuid.uuid4().hex[:10]}@example.com" for _ in range(100 - 20)]
        answers = [await log_in(attacker, email, "wrong password!") for email in guesses]
        assert answers[:20] == [401] * 20
        assert answers[20:] == [401] * 30 + [429] * 50  # 50 failures: the address's limit
        for email in real:
            assert await log_in(attacker, email, "wrong password!") == 429
        assert await log_in(attacker, owners[0].email, demo.PASSWORD) == 429

    async with client_at(OWNER, own_platform) as owner_api:
        assert await log_in(owner_api, admin["email"], admin["password"]) == 200
        for owner in owners:
            assert await log_in(owner_api, owner.email, demo.PASSWORD) == 200


async def test_a_client_cannot_pick_its_own_address_with_x_real_ip(
    own_platform: RunningPlatform,
) -> None:
    # The gateway overwrites X-Real-IP: 50 failures "from" 50 addresses are one address's.
    address = "127.0.0.88"
    async with client_at(address, own_platform) as api:
        answers = []
        for i in range(51):
            async with api.session.post(
                api.url("/auth/login"),
                json={"email": f"x-{uuid.uuid4().hex[:8]}@example.com", "password": "nope!"},
                headers={"X-Real-IP": f"198.51.100.{i}"},
            ) as response:
                answers.append(response.status)
        assert answers == [401] * 50 + [429]
    async with client_at("127.0.0.89", own_platform) as other:
        assert await log_in(other, "nobody@example.com", "nope!") == 401
