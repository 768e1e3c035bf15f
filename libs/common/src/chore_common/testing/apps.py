"""Services under test over real HTTP on free ports: what every integration conftest repeats.

```python
@pytest.fixture
async def start_tasks(tasks_settings: TasksSettings) -> AsyncIterator[StartApp]:
    async with app_starter(create_app, tasks_settings) as start:
        yield start            # await start(scheduler_enabled=False) -> a client of a new app
```

Apps started during a test are closed after it, the last one first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.db import create_engine
from chore_common.db.migrations import upgrade_head

Client = TestClient[web.Request, web.Application]
StartApp = Callable[..., Awaitable[Client]]
S = TypeVar("S", bound=BaseModel)


class StartedApps:
    """The clients of the apps a test started, to close after it in reverse order."""

    def __init__(self) -> None:
        self.clients: list[Client] = []

    async def start(self, app: web.Application) -> Client:
        """Serve `app` on a free loopback port; its client is kept for `close`."""
        client: Client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in reversed(self.clients):
            await client.close()


@asynccontextmanager
async def app_starter(
    create_app: Callable[[S], web.Application], settings: S
) -> AsyncIterator[StartApp]:
    """`start(**changes)`: a new app from `settings` with those fields changed."""
    started = StartedApps()

    async def start(**changes: Any) -> Client:
        return await started.start(create_app(settings.model_copy(update=changes)))

    try:
        yield start
    finally:
        await started.close()


@asynccontextmanager
async def migrated_engine(
    database_url: str, migrations: Path, *, pool_size: int
) -> AsyncIterator[AsyncEngine]:
    """An engine on `database_url` once a service's migrations have run there."""
    await asyncio.to_thread(upgrade_head, database_url, migrations)
    made = create_engine(database_url, pool_size=pool_size)
    try:
        yield made
    finally:
        await made.dispose()
