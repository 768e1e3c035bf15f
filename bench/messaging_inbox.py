"""`messaging.inbox_p50_ms`: the first page of the inbox of a user with 200 conversations,
on PostgreSQL, as a client gets it (GET /messaging/conversations through the service).

The database holds that user's 200 conversations (half as owner, half as tasker, each with a
last message and a preview) among 20,000 other users' conversations; one messaging replica
runs as deployed (its runner, real NATS, tokens verified through JWKS). Requests go one at
a time from one client. Part of the messaging suite (`bench/messaging.py` appends it);
`python -m bench.messaging_inbox` runs it alone.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.figures import Description, Figure, median
from bench.loadgen import percentile

MINE = 200
OTHERS = 20_000
WARMUP = 50
REQUESTS = 400  # per run

DESCRIPTIONS = {
    "messaging.inbox_p50_ms": Description(
        measures=f"GET /messaging/conversations (first page, 20 items) of a user with {MINE}"
        f" conversations among {OTHERS:,} others', one request at a time, wall clock p50"
        " (p99 in the note); PostgreSQL, one replica as deployed.",
        ceiling="",
        limits="Two index range scans (as owner, as tasker) on (user, last_activity_at, id)"
        " merged and cut at 21 rows, then the token check and the JSON of 20 items.",
    ),
}


def _log(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


async def seed(database_url: str, user_id: uuid.UUID) -> None:
    """The user's conversations and everyone else's, inserted in bulk."""
    from chore_common.db import create_engine
    from chore_messaging.adapters.tables import CONVERSATIONS

    rng = random.Random(26)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    strangers = [uuid.uuid4() for _ in range(2_000)]

    def row(owner: uuid.UUID, tasker: uuid.UUID) -> dict[str, Any]:
        at = start + timedelta(seconds=rng.randint(0, 5 * 86_400))
        return {
            "id": uuid.uuid4(), "task_id": uuid.uuid4(), "owner_id": owner, "tasker_id": tasker,
            "task_title": "Bench: hang two shelves", "is_open": True, "last_seq": 7,
            "owner_read_seq": rng.randint(0, 7), "tasker_read_seq": 7, "created_at": start,
            "last_activity_at": at, "last_preview": "See you tomorrow at nine, I bring the drill",
            "last_sender_id": owner, "task_status": "open",
        }  # fmt: skip

    rows = [row(user_id, rng.choice(strangers)) for _ in range(MINE // 2)]
    rows += [row(rng.choice(strangers), user_id) for _ in range(MINE - MINE // 2)]
    rows += [row(rng.choice(strangers), rng.choice(strangers)) for _ in range(OTHERS)]
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            for i in range(0, len(rows), 2_000):
                await conn.execute(CONVERSATIONS.insert(), rows[i : i + 2_000])
        async with engine.begin() as conn:
            from sqlalchemy import text

            await conn.execute(text("ANALYZE conversations"))
    finally:
        await engine.dispose()


async def measure(base_url: str, token: str, requests: int) -> list[float]:
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    url = f"{base_url}/messaging/conversations"
    took: list[float] = []
    async with aiohttp.ClientSession() as http:
        for i in range(WARMUP + requests):
            started = time.perf_counter()
            async with http.get(url, headers=headers) as resp:
                body = await resp.read()
                assert resp.status == 200, body[:200]
            if i >= WARMUP:
                took.append(time.perf_counter() - started)
    page = json.loads(body)
    assert len(page["items"]) == 20, "the first page of a 200-conversation inbox"
    return took


def run(runs: int) -> list[Figure]:
    from bench.messaging import jwks_issuer, servers
    from chore_common.testing.databases import postgres_reachable, throwaway_database
    from chore_common.testing.nats import NatsServer
    from chore_messaging.app import migrate
    from chore_messaging.settings import MessagingSettings

    if not postgres_reachable():
        _log("PostgreSQL not reachable on 127.0.0.1:5432: messaging.inbox_p50_ms skipped")
        return []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        nats = NatsServer(Path(tmp) / "nats").start()
        stack.callback(nats.stop)
        issuer = stack.enter_context(jwks_issuer())
        url = stack.enter_context(throwaway_database("postgres", Path(tmp)))
        migrate(MessagingSettings(database_url=url, var_dir=Path(tmp)))
        me = issuer.user("client")
        asyncio.run(seed(url, me.id))
        (server,) = stack.enter_context(
            servers(("messaging (inbox)", ["serve", url, nats.url, issuer.jwks_url]))
        )
        base = f"http://127.0.0.1:{server.port}"
        per_run = [asyncio.run(measure(base, me.token, REQUESTS)) for _ in range(runs)]
    return [_figure(per_run)]


def _figure(per_run: list[list[float]]) -> Figure:
    every = [t for r in per_run for t in r]
    p50s = [percentile(r, 50) * 1000 for r in per_run]
    return Figure(
        name="messaging.inbox_p50_ms",
        value=round(median(p50s), 2),
        unit="ms",
        target="value <= 10",
        note=(
            f"first page (20) of {MINE} conversations among {OTHERS:,}, PostgreSQL;"
            f" {len(every)} requests over {len(per_run)} runs, p99"
            f" {percentile(every, 99) * 1000:.2f} ms; per-run p50"
            f" {min(p50s):.2f}..{max(p50s):.2f} ms"
        ),
    )


if __name__ == "__main__":
    for figure in run(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        print(json.dumps(figure.as_json()))
