"""The fixtures themselves: real nats-server with JetStream, real throwaway databases."""

import nats
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from chore_common.testing.nats import NatsServer


async def test_nats_server_fixture_serves_jetstream(nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url)
    info = await nc.jetstream().account_info()
    await nc.close()
    assert info.limits is not None


@pytest.mark.db
async def test_database_url_is_a_fresh_empty_database(database_url: str, db_backend: str) -> None:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE probe (id INTEGER PRIMARY KEY)"))
        await conn.execute(text("INSERT INTO probe (id) VALUES (1)"))
        count = (await conn.execute(text("SELECT count(*) FROM probe"))).scalar_one()
    await engine.dispose()
    assert count == 1
    assert database_url.startswith("postgresql" if db_backend == "postgres" else "sqlite")
