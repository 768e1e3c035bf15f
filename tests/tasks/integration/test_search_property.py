"""Search against brute force: on many seeded tasks (100,000 on PostgreSQL, 3,000 on SQLite),
random queries through the real repository return what `tasks.search_oracle` finds by
scanning the same rows in Python, in the same order; paging through a sort visits every
match once.

The seed is printed in the failure message: `SEARCH_SEED=<n>` replays a run.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_tasks import usecases
from chore_tasks.adapters.repository import values_of
from chore_tasks.adapters.tables import OFFERS, TASKS
from chore_tasks.adapters.uow import TasksUnitOfWork
from chore_tasks.domain.model import Actor, Location, Offer, OfferStatus, Role, Status, Task
from chore_tasks.domain.search import Near, Sort
from chore_tasks.usecases.commands import BrowseTasks
from chore_tasks.usecases.ports import TaskFilter
from tasks import search_oracle
from tasks.unit.factories import NOW

pytestmark = pytest.mark.db

# Plain letter words: tokenized alike by PostgreSQL's 'simple' parser, FTS5 and the oracle.
WORDS = [
    f"{a}{b}"
    for a in ("paint", "mow", "fix", "clean", "move", "walk", "build", "wash")
    for b in ("", "er", "ing", "ed", "s")
]
CATEGORIES = ["garden", "cleaning", "moving", "pets", "plumbing", "painting", "repairs", "it"]
CITIES = [(52.52, 13.405), (48.857, 2.352), (51.507, -0.128), (40.713, -74.006)]
QUERIES = 40


def seed() -> int:
    return int(os.environ.get("SEARCH_SEED", random.randrange(1 << 30)))


def random_location(rng: random.Random) -> Location | None:
    roll = rng.random()
    if roll < 0.15:
        return None
    if roll < 0.25:  # moved from a free-text location: an address, no point
        return Location(lat=None, lon=None, address=f"{rng.randrange(200)} High Street")
    if roll < 0.3:
        return Location(lat=rng.uniform(-89, 89), lon=rng.uniform(-179, 179))
    lat, lon = rng.choice(CITIES)
    return Location(lat=lat + rng.uniform(-0.6, 0.6), lon=lon + rng.uniform(-0.9, 0.9))


def random_task(rng: random.Random, owners: list[UUID], assignees: list[UUID]) -> Task:
    status = rng.choice(list(Status))
    assigned = status in (Status.ASSIGNED, Status.IN_PROGRESS, Status.COMPLETED)
    # Whole minutes and a few hundred budgets: sort keys tie often, so ties by id are tested.
    created = NOW - timedelta(minutes=rng.randrange(50_000))
    return Task(
        id=uuid4(),
        owner_id=rng.choice(owners),
        title=" ".join(rng.choices(WORDS, k=rng.randint(1, 4))).capitalize(),
        description=" ".join(rng.choices(WORDS, k=rng.randint(0, 10))),
        category=rng.choice(CATEGORIES),
        budget_cents=100 * rng.randint(1, 400),
        currency="EUR",
        due_at=None if rng.random() < 0.3 else NOW + timedelta(hours=rng.randrange(2000)),
        location=random_location(rng),
        status=status,
        assignee_id=rng.choice(assignees) if assigned else None,
        offer_id=uuid4() if assigned else None,
        cancel_reason=None,
        version=1,
        created_at=created,
        updated_at=created,
    )


async def seed_rows(engine: AsyncEngine, tasks: list[Task], offers: list[Offer]) -> None:
    """Straight into the tables, many rows a statement: the use cases would take minutes."""
    async with engine.begin() as conn:
        for start in range(0, len(tasks), 5000):
            await conn.execute(insert(TASKS), [values_of(t) for t in tasks[start : start + 5000]])
        await conn.execute(insert(OFFERS), [values_of(o) for o in offers])


def random_query(rng: random.Random, viewer: Actor) -> TaskFilter:
    fields: dict[str, Any] = {"viewer": viewer, "limit": rng.choice([1, 7, 20, 100])}
    if rng.random() < 0.3:
        fields["status"] = rng.choice(list(Status))
    if rng.random() < 0.4:
        fields["categories"] = tuple(rng.sample(CATEGORIES, rng.randint(1, 3)))
    if rng.random() < 0.3:
        fields["budget_min"] = 100 * rng.randint(1, 300)
    if rng.random() < 0.3:
        fields["budget_max"] = fields.get("budget_min", 0) + 100 * rng.randint(0, 200)
    if rng.random() < 0.25:
        fields["due_after"] = NOW + timedelta(hours=rng.randrange(1000))
    if rng.random() < 0.25:
        fields["due_before"] = fields.get("due_after", NOW) + timedelta(hours=rng.randrange(1, 900))
    if rng.random() < 0.5:
        fields["words"] = tuple(dict.fromkeys(rng.choices(WORDS, k=rng.randint(1, 2))))
    if rng.random() < 0.5:
        lat, lon = rng.choice(CITIES)
        fields["near"] = Near(lat + rng.uniform(-0.3, 0.3), lon, rng.uniform(1, 60))
    sorts = [Sort.NEWEST, Sort.BUDGET, Sort.DUE]
    sorts += [Sort.DISTANCE] if "near" in fields else []
    sorts += [Sort.RELEVANCE] if "words" in fields else []
    return TaskFilter(**fields, sort=rng.choice(sorts))


def as_command(query: TaskFilter, after: Any = None) -> BrowseTasks:
    return BrowseTasks(
        actor=query.viewer,
        status=query.status,
        categories=query.categories,
        q=" ".join(query.words) or None,
        budget_min=query.budget_min,
        budget_max=query.budget_max,
        due_after=query.due_after,
        due_before=query.due_before,
        near=query.near,
        sort=query.sort,
        limit=query.limit,
        after=after,
    )


async def all_pages(uow: Callable[[], TasksUnitOfWork], query: TaskFilter) -> list[UUID]:
    seen: list[UUID] = []
    after = None
    while True:
        page = await usecases.browse_tasks(uow(), as_command(query, after), NOW)
        seen += [t.id for t in page.items]
        if (after := page.next_key) is None:
            return seen


async def test_random_searches_return_what_brute_force_finds_and_pages_visit_each_once(
    engine: AsyncEngine, uow: Callable[[], TasksUnitOfWork], db_backend: str
) -> None:
    run = seed()
    rng = random.Random(run)
    size = 100_000 if db_backend == "postgres" else 3_000
    owners, assignees = [uuid4() for _ in range(200)], [uuid4() for _ in range(50)]
    tasks = [random_task(rng, owners, assignees) for _ in range(size)]
    viewers = [
        Actor(owners[0], Role.CLIENT),
        Actor(assignees[0], Role.TASKER),
        Actor(uuid4(), Role.ADMIN),
    ]
    offered = {t.id for t in rng.sample(tasks, size // 50)}
    offers = [
        Offer(
            id=uuid4(),
            task_id=task_id,
            tasker_id=viewers[1].user_id,
            price_cents=1000,
            currency="EUR",
            message="",
            status=OfferStatus.OPEN,
            version=1,
            created_at=NOW,
            updated_at=NOW,
        )
        for task_id in offered
    ]
    await seed_rows(engine, tasks, offers)
    for n in range(QUERIES):
        viewer = rng.choice(viewers)
        query = random_query(rng, viewer)
        mine = offered if viewer is viewers[1] else set()
        expected = [t.id for t in search_oracle.ordered(tasks, query, mine)]
        page = await usecases.browse_tasks(uow(), as_command(query), NOW)
        got = [t.id for t in page.items]
        why = f"seed {run}, query {n}: {query}"
        if query.sort is Sort.RELEVANCE:  # each backend ranks its own way: compare matches
            assert set(got) <= set(expected), why
            assert len(got) == min(query.limit, len(expected)), why
        else:
            assert got == expected[: query.limit], why
        assert (page.next_key is None) == (len(expected) <= query.limit), why
        if len(expected) <= 3_000:
            visited = await all_pages(uow, replace(query, limit=100))
            assert len(visited) == len(set(visited)), why
            if query.sort is Sort.RELEVANCE:
                assert set(visited) == set(expected), why
            else:
                assert visited == expected, why
    # And every sort paged through end to end on a narrower query, whatever the dice gave.
    for sort in Sort:
        query, expected = narrow_query(rng, tasks, viewers[2], sort)
        visited = await all_pages(uow, query)
        why = f"seed {run}, paging {sort}: {query}"
        assert len(visited) == len(set(visited)), why
        if sort is Sort.RELEVANCE:
            assert set(visited) == set(expected), why
        else:
            assert visited == expected, why


def narrow_query(
    rng: random.Random, tasks: list[Task], viewer: Actor, sort: Sort
) -> tuple[TaskFilter, list[UUID]]:
    """A query with every kind of filter a sort can need, matching some tens to thousands."""
    lat, lon = rng.choice(CITIES)
    query = TaskFilter(
        viewer=viewer,
        categories=(rng.choice(CATEGORIES), rng.choice(CATEGORIES)),
        words=(rng.choice(WORDS),),
        near=Near(lat, lon, 40.0),
        sort=sort,
        limit=rng.choice([3, 50]),
    )
    for narrower in (query, replace(query, categories=()), replace(query, words=(), categories=())):
        if sort is Sort.RELEVANCE and not narrower.words:
            narrower = replace(narrower, words=query.words)
        expected = [t.id for t in search_oracle.ordered(tasks, narrower, set())]
        if 10 <= len(expected) <= 3_000:
            return narrower, expected
    raise AssertionError(f"no narrow query matches 10..3000 tasks under {sort}")
