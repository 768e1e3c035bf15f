"""One platform per session, as `make run` starts it: two replicas of each service on the test
run's database backend (SQLite files in a temp var dir, or fresh PostgreSQL databases dropped
afterwards). Tests that must end a platform (SIGTERM under load) start their own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from .helpers import RunningPlatform, demo, launch_platform


@pytest.fixture(scope="session")
def platform(
    tmp_path_factory: pytest.TempPathFactory, db_backend: str
) -> Iterator[RunningPlatform]:
    with launch_platform(tmp_path_factory.mktemp("platform") / "var", db_backend, 2) as running:
        print(f"\nplatform ready in {running.ready_after_s:.1f} s ({db_backend}, 2 replicas)")
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client:
        yield client


@pytest.fixture
def api(platform: RunningPlatform, session: aiohttp.ClientSession) -> Any:
    return demo.Api(session, platform.url)


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:10]
