"""Search figures of the tasks service, on PostgreSQL with 100,000 tasks.

- `tasks.search_p50_ms`: GET /tasks?near=&radius_km=&q=&category= through the real service
  (token verification, query validation, the visibility rule, the full-text match on the
  GIN index, the bounding box and the distance, JSON), one client, p50. Target: 20 ms.
- `tasks.search_rps_ratio`: the same request per second (one client) vs the same page
  fetched by a bare SELECT through SQLAlchemy Core (the statement the repository builds,
  executed and its rows read, nothing else), one client, in the same rounds. Target: >= 0.5.

`python -m bench --only tasks_search` runs this suite alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import jwt

from bench.figures import Description, Figure, median
from bench.loadgen import measure_latency, measure_rps, percentile
from bench.tasks import SERVER_CPU, Issuer, tasks_server

TASKS = 100_000
REQUESTS = 300
DURATION_S = 1.5
CITIES = [(52.52, 13.405), (48.857, 2.352), (51.507, -0.128), (41.9, 12.5), (40.42, -3.7)]
CITIES += [(50.85, 4.35), (52.37, 4.9), (48.21, 16.37), (50.08, 14.43), (59.33, 18.07)]
CATEGORIES = ["garden", "cleaning", "moving", "pets", "plumbing", "painting", "repairs", "it"]
WORDS = [f"{a}{b}" for a in ("paint", "mow", "fix", "clean", "move", "walk", "build", "wash",
         "hang", "assemble", "repair", "carry") for b in ("", "er", "ing", "ed", "s")]  # fmt: skip
# Berlin, 10 km, one word, one category: some tens of matches among the 100,000.
QUERY = {"near": "52.52,13.405", "radius_km": "10", "q": "painting", "category": "garden"}

DESCRIPTIONS = {
    "tasks.search_p50_ms": Description(
        measures=f"GET /tasks with near (10 km), q (one word) and a category over {TASKS:,}"
        " tasks on PostgreSQL through the real service, one client, p50: the token, the"
        " query's validation, the visibility rule, full text on the GIN index, the"
        " latitude/longitude box on its btree index, haversine in SQL, newest first, JSON.",
        ceiling="the p50 of the same page by a bare SELECT through SQLAlchemy Core",
        limits="PostgreSQL's plan: the GIN bitmap of the word ANDed with the box's index"
        " scan, then the distance and visibility on the rows left; then the service's"
        " per-request stack.",
    ),
    "tasks.search_rps_ratio": Description(
        measures="The same search per second, one client, through the service.",
        ceiling="the same statement (the repository's) executed and its rows read through"
        " SQLAlchemy Core, one connection, measured in the same rounds",
        limits="What the service adds per request: the HTTP stack, the token, validation,"
        " building the statement, rows to tasks, tasks to JSON.",
    ),
}


def _log(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


def _array(items: list[Any]) -> str:
    return "ARRAY[" + ", ".join(repr(x) for x in items) + "]"


# Generated in the database: 100,000 rows in seconds, where sending them takes a minute.
# Each row picks its words, city and values with random(); LATERAL makes every pick per row.
# Built from this module's constants only, never from input.
SEED_SQL = f"""
INSERT INTO tasks (id, owner_id, title, description, category, budget_cents, currency, due_at,
                   lat, lon, address, status, version, created_at, updated_at)
SELECT gen_random_uuid(), gen_random_uuid(),
       initcap(array_to_string(ARRAY(SELECT (w)[1 + floor(random() * {len(WORDS)})::int]
                                     FROM generate_series(1, 2 + g % 3)), ' ')),
       array_to_string(ARRAY(SELECT (w)[1 + floor(random() * {len(WORDS)})::int]
                             FROM generate_series(1, g % 13)), ' '),
       (c)[1 + floor(random() * {len(CATEGORIES)})::int],
       100 * (5 + floor(random() * 495)::int), 'EUR',
       CASE WHEN random() < 0.3 THEN NULL
            ELSE now() + floor(random() * 2000) * interval '1 hour' END,
       (lats)[city] + (random() + random() + random() - 1.5) * 0.3,
       (lons)[city] + (random() + random() + random() - 1.5) * 0.5,
       NULL, CASE WHEN random() < 0.7 THEN 'open' ELSE 'completed' END, 1, made, made
FROM generate_series(1, :n) AS g,
     LATERAL (SELECT 1 + floor(random() * {len(CITIES)})::int + 0 * g AS city,
                     now() - floor(random() * 200000 + 0 * g) * interval '1 minute' AS made) AS p,
     (SELECT {_array(WORDS)} AS w, {_array(CATEGORIES)} AS c,
             {_array([lat for lat, _ in CITIES])}::float8[] AS lats,
             {_array([lon for _, lon in CITIES])}::float8[] AS lons) AS k
"""  # noqa: S608


def seed(database_url: str, n: int = TASKS) -> None:
    """Child process: `n` tasks into the migrated table, then ANALYZE."""

    async def main() -> None:
        from sqlalchemy import text

        from chore_common.db import create_engine

        engine = create_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(text(SEED_SQL), {"n": n})
        async with engine.connect() as conn:
            await conn.execute(text("COMMIT"))
            await conn.execute(text("ANALYZE tasks"))
        await engine.dispose()

    asyncio.run(main())


def raw_search(database_url: str, viewer: str, requests: int, seconds: float) -> dict[str, Any]:
    """Child process pinned to the server's core: the repository's statement for QUERY,
    executed and read through SQLAlchemy Core, one at a time."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {SERVER_CPU})

    async def main() -> dict[str, Any]:
        from chore_common.db import create_engine
        from chore_tasks.adapters.search import browse_statement
        from chore_tasks.domain.model import Actor, Role
        from chore_tasks.domain.search import Near, terms
        from chore_tasks.usecases.ports import TaskFilter

        lat, lon = (float(x) for x in QUERY["near"].split(","))
        query = TaskFilter(
            viewer=Actor(UUID(viewer), Role.TASKER),
            categories=(QUERY["category"],),
            words=terms(QUERY["q"]),
            near=Near(lat, lon, float(QUERY["radius_km"])),
        )
        stmt, values = browse_statement(query, "postgresql")
        engine = create_engine(database_url, pool_size=1)

        async def once() -> float:
            started = time.perf_counter()
            async with engine.connect() as conn:
                rows = (await conn.execute(stmt, values)).mappings().all()
            assert rows, "the bench query matches nothing"
            return time.perf_counter() - started

        for _ in range(50):
            await once()
        latencies = [await once() for _ in range(requests)]
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            await once()
            done += 1
        rps = done / (time.perf_counter() - started)
        await engine.dispose()
        return {"latencies": latencies, "rps": rps}

    return asyncio.run(main())


def _child(*args: str, timeout: float) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "bench.tasks_search", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    return out.stdout


def _figures(pg_url: str, nats_url: str, issuer: Issuer, runs: int) -> list[Figure]:
    token = issuer.token("tasker")
    viewer = jwt.decode(token, options={"verify_signature": False})["sub"]
    headers = {"Authorization": f"Bearer {token}"}
    p50s, raw_p50s, ratios, rps_s, raw_rps_s = [], [], [], [], []
    with tasks_server(pg_url, nats_url, issuer.url) as srv:  # migrates the database
        started = time.monotonic()
        _child("seed", pg_url, timeout=600)
        _log(f"seeded {TASKS:,} tasks in {time.monotonic() - started:.0f} s")
        url = f"{srv.url}/tasks?{urlencode(QUERY)}"
        for i in range(runs):
            raw = json.loads(
                _child("raw", pg_url, viewer, str(REQUESTS), str(DURATION_S), timeout=120)
            )
            latencies = measure_latency(url, "GET", b"", headers, requests=REQUESTS, warmup=50)
            load = measure_rps(url, "GET", b"", headers, connections=1, duration_s=DURATION_S)
            if load.errors:
                raise RuntimeError(f"GET /tasks search: {load.errors} errors")
            p50s.append(percentile(latencies, 50) * 1000)
            raw_p50s.append(percentile(raw["latencies"], 50) * 1000)
            rps_s.append(load.rps)
            raw_rps_s.append(raw["rps"])
            ratios.append(load.rps / raw["rps"])
            _log(
                f"run {i + 1}/{runs}: search p50 {p50s[-1]:.2f} ms (Core {raw_p50s[-1]:.2f} ms),"
                f" {load.rps:.0f}/s vs Core {raw['rps']:.0f}/s"
            )
    return [
        Figure(
            name="tasks.search_p50_ms",
            value=round(median(p50s), 3),
            unit="ms",
            ceiling=round(median(raw_p50s), 3),
            ratio=round(median(p50s) / median(raw_p50s), 2),
            target="value <= 20",
            note=f"PostgreSQL, {TASKS:,} tasks; near 10 km + q + category, one client;"
            f" ceiling: the same SELECT through SQLAlchemy Core; median of {runs} runs",
        ),
        Figure(
            name="tasks.search_rps_ratio",
            value=round(median(rps_s), 1),
            unit="req/s",
            ceiling=round(median(raw_rps_s), 1),
            ratio=round(median(ratios), 3),
            target="ratio >= 0.5",
            note=f"one client each side, back to back; median of {runs} rounds"
            f" (ratios {min(ratios):.2f}..{max(ratios):.2f})",
        ),
    ]


def run(runs: int) -> list[Figure]:
    from chore_common.testing.databases import postgres_reachable, throwaway_database
    from chore_common.testing.nats import NatsServer

    if not postgres_reachable():
        _log("PostgreSQL not reachable on 127.0.0.1:5432: tasks.search_* skipped")
        return []
    issuer = Issuer()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        nats = NatsServer(Path(tmp) / "nats").start()
        stack.callback(nats.stop)
        stack.callback(issuer.close)
        pg_url = stack.enter_context(throwaway_database("postgres", Path(tmp)))
        return _figures(pg_url, nats.url, issuer, runs)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[0] == "seed":
        seed(args[1])
    elif args[0] == "raw":
        print(json.dumps(raw_search(args[1], args[2], int(args[3]), float(args[4]))))
    else:
        raise SystemExit(f"unknown command {args[0]!r}")


if __name__ == "__main__":
    main()
