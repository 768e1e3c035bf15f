"""Use cases over the real unit of work and a real database (PostgreSQL, or SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.errors import Conflict
from chore_tasks import usecases
from chore_tasks.adapters.tables import OUTBOX
from chore_tasks.adapters.uow import TasksUnitOfWork
from chore_tasks.domain.jobs import JobKind, JobStatus
from chore_tasks.domain.model import Offer, Status, Task
from chore_tasks.usecases.commands import (
    AssignTask,
    BrowseTasks,
    CreateTask,
    GetTask,
    ListOffers,
    MakeOffer,
    ReviewTask,
)
from chore_tasks.usecases.ports import JobFilter
from tasks.unit.factories import NOW, client, tasker

pytestmark = pytest.mark.db


async def outbox_subjects(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(OUTBOX.c.subject).order_by(OUTBOX.c.id))
    return list(rows.scalars())


async def post(uow: Callable[[], TasksUnitOfWork], **changes: object) -> Task:
    fields: dict[str, object] = {
        "actor": client(),
        "title": "Fix a dripping tap",
        "description": "Kitchen, mixer tap",
        "category": "plumbing",
        "budget_cents": 5000,
    }
    return await usecases.create_task(uow(), CreateTask(**{**fields, **changes}), NOW)  # type: ignore[arg-type]


async def test_a_posted_task_reads_back_equal_with_its_event_and_expiry_job(
    uow: Callable[[], TasksUnitOfWork], engine: AsyncEngine
) -> None:
    owner = client()
    task = await post(uow, actor=owner, due_at=NOW + timedelta(days=1), location="Bristol")
    again = await usecases.get_task(uow(), GetTask(task_id=task.id, actor=owner), NOW)
    assert again == task
    assert again.due_at is not None
    assert again.due_at.utcoffset() == timedelta(0)
    assert await outbox_subjects(engine) == ["tasks.task.created"]
    async with uow() as u:
        page = await u.jobs.list(JobFilter(task_id=task.id))
    [job] = page.items
    assert (job.kind, job.status, job.run_at) == (
        JobKind.EXPIRE_TASK,
        JobStatus.QUEUED,
        task.due_at,
    )


async def test_of_concurrent_assigns_with_different_offers_exactly_one_wins(
    uow: Callable[[], TasksUnitOfWork], engine: AsyncEngine
) -> None:
    owner = client()
    task = await post(uow, actor=owner)
    offers: list[Offer] = []
    for _ in range(10):
        made = MakeOffer(task_id=task.id, actor=tasker(), price_cents=4000, message="")
        offers.append(await usecases.make_offer(uow(), made, NOW))
    results = await asyncio.gather(
        *(
            usecases.assign_task(
                uow(), AssignTask(task_id=task.id, offer_id=o.id, actor=owner), NOW
            )
            for o in offers
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Task) for r in results) == 1
    assert all(isinstance(r, Task | Conflict) for r in results), results
    assert (await outbox_subjects(engine)).count("tasks.task.assigned") == 1


async def test_racing_offers_by_one_tasker_store_one(uow: Callable[[], TasksUnitOfWork]) -> None:
    task, worker = await post(uow), tasker()
    made = MakeOffer(task_id=task.id, actor=worker, price_cents=4000, message="hi")
    results = await asyncio.gather(
        *(usecases.make_offer(uow(), made, NOW) for _ in range(5)), return_exceptions=True
    )
    assert sum(isinstance(r, Offer) for r in results) == 1
    assert all(isinstance(r, Offer | Conflict) for r in results), results
    page = await usecases.list_offers(uow(), ListOffers(task_id=task.id, actor=worker), NOW)
    assert len(page.items) == 1


async def test_browse_pages_hide_private_tasks_and_match_text(
    uow: Callable[[], TasksUnitOfWork],
) -> None:
    owner, stranger = client(), client()
    posted = [await post(uow, actor=owner, title=f"Job {n} 100%_done") for n in range(5)]
    seen: list[object] = []
    after = None
    while True:
        page = await usecases.browse_tasks(
            uow(), BrowseTasks(actor=stranger, limit=2, after=after, q="100%_DONE"), NOW
        )
        seen += [t.id for t in page.items]
        if (after := page.next_key) is None:
            break
    assert seen == sorted((t.id for t in posted), reverse=True)  # same instant: by id
    none = await usecases.browse_tasks(uow(), BrowseTasks(actor=stranger, q="1000%"), NOW)
    assert none.items == []
    cancel = usecases.commands.CancelTask(task_id=posted[0].id, actor=owner)
    await usecases.cancel_task(uow(), cancel, NOW)
    visible = await usecases.browse_tasks(uow(), BrowseTasks(actor=stranger), NOW)
    assert posted[0].id not in {t.id for t in visible.items}
    mine = await usecases.browse_tasks(
        uow(), BrowseTasks(actor=owner, status=Status.CANCELLED), NOW
    )
    assert [t.id for t in mine.items] == [posted[0].id]


async def test_a_second_review_is_refused_by_the_database_too(
    uow: Callable[[], TasksUnitOfWork], engine: AsyncEngine
) -> None:
    owner, worker = client(), tasker()
    task = await post(uow, actor=owner)
    offer = await usecases.make_offer(
        uow(), MakeOffer(task_id=task.id, actor=worker, price_cents=100, message=""), NOW
    )
    await usecases.assign_task(
        uow(), AssignTask(task_id=task.id, offer_id=offer.id, actor=owner), NOW
    )
    await usecases.start_task(
        uow(), usecases.commands.StartTask(task_id=task.id, actor=worker), NOW
    )
    await usecases.complete_task(
        uow(), usecases.commands.CompleteTask(task_id=task.id, actor=worker), NOW
    )
    results = await asyncio.gather(
        *(
            usecases.review_task(
                uow(), ReviewTask(task_id=task.id, actor=owner, rating=5, comment="ok"), NOW
            )
            for _ in range(3)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Conflict) for r in results) == 2, results
    async with engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(OUTBOX))).scalar_one()
    assert count == 1 + 1 + 1 + 1 + 1 + 1  # created, offer, assigned, started, completed, review
