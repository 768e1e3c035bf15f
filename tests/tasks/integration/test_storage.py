"""Use cases over the real unit of work and a real database (PostgreSQL, or SQLite)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.db import create_engine
from chore_common.errors import Conflict
from chore_common.telemetry import tracing
from chore_common.testing.nats import free_port
from chore_tasks import usecases
from chore_tasks.adapters.group_commit import GroupCommit, TransactionEach
from chore_tasks.adapters.tables import JOBS, OUTBOX, TASKS
from chore_tasks.adapters.uow import TasksUnitOfWork
from chore_tasks.domain import lifecycle
from chore_tasks.domain.jobs import JobKind, JobStatus
from chore_tasks.domain.model import Location, Offer, Status, Task
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
    return await usecases.create_task(
        TransactionEach(uow), CreateTask(**{**fields, **changes}), NOW
    )  # type: ignore[arg-type]


async def test_a_posted_task_reads_back_equal_with_its_event_and_expiry_job(
    uow: Callable[[], TasksUnitOfWork], engine: AsyncEngine
) -> None:
    owner = client()
    task = await post(
        uow,
        actor=owner,
        due_at=NOW + timedelta(days=1),
        location=Location(lat=51.45, lon=-2.59, address="Bristol"),
    )
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


async def posted_rows(engine: AsyncEngine) -> tuple[set[UUID], list[tuple[str, str]], set[UUID]]:
    """Task ids, (subject, traceparent) of outbox rows, task ids of jobs."""
    async with engine.connect() as conn:
        tasks = set((await conn.execute(select(TASKS.c.id))).scalars())
        rows = (await conn.execute(select(OUTBOX.c.payload, OUTBOX.c.headers))).all()
        jobs = set((await conn.execute(select(JOBS.c.task_id))).scalars())
    events = [
        (json.loads(payload)["data"]["task_id"], headers.get("traceparent", ""))
        for payload, headers in rows
    ]
    return tasks, events, jobs


async def test_tasks_posted_together_share_one_commit_each_with_its_own_event_and_trace(
    uow: Callable[[], TasksUnitOfWork], engine: AsyncEngine, spans: InMemorySpanExporter
) -> None:
    commits: list[int] = []
    event.listen(engine.sync_engine, "commit", lambda _conn: commits.append(1))
    group = GroupCommit(uow)
    group.start()

    async def post_traced(n: int) -> tuple[Task, str]:
        # Each post in a request span of its own, as the HTTP middleware makes it.
        with tracing.tracer().start_as_current_span(f"POST {n}") as span:
            cmd = CreateTask(
                actor=client(),
                title=f"Chore {n}",
                description="",
                category="garden",
                budget_cents=1000 + n,
                due_at=NOW + timedelta(days=1),
            )
            trace_id = f"{span.get_span_context().trace_id:032x}"
            return await usecases.create_task(group, cmd, NOW), trace_id

    try:
        posted = await asyncio.gather(*(post_traced(n) for n in range(40)))
    finally:
        await group.close()
    assert len(commits) < 10, f"40 posts took {len(commits)} commits: not grouped"
    tasks, events, jobs = await posted_rows(engine)
    assert tasks == {task.id for task, _ in posted} == jobs
    # A traceparent is 00-<trace id>-<span id>-<flags>: each event carries its own post's.
    assert sorted((task_id, header.split("-")[1]) for task_id, header in events) == sorted(
        (str(task.id), trace) for task, trace in posted
    )


async def test_a_bad_post_in_a_group_fails_alone_and_the_rest_are_kept(
    uow: Callable[[], TasksUnitOfWork], engine: AsyncEngine
) -> None:
    group = GroupCommit(uow)
    group.start()
    try:
        first = await usecases.create_task(group, create_cmd(0), NOW)
        again, created = lifecycle.create(
            task_id=first.id,  # the same id again: the database refuses the row
            by=client(),
            title="Duplicate",
            description="",
            category="garden",
            budget_cents=100,
            currency="EUR",
            due_at=None,
            location=None,
            now=NOW,
        )
        results = await asyncio.gather(
            *(usecases.create_task(group, create_cmd(n), NOW) for n in range(1, 11)),
            group.add(again, None, created),
            return_exceptions=True,
        )
    finally:
        await group.close()
    *good, bad = results
    assert isinstance(bad, IntegrityError)
    assert all(isinstance(r, Task) for r in good), good
    tasks, events, _ = await posted_rows(engine)
    assert tasks == {first.id} | {t.id for t in good if isinstance(t, Task)}
    assert sorted(e[0] for e in events) == sorted(str(t) for t in tasks)


async def test_a_post_no_driver_can_write_fails_alone_and_never_another_users_post(
    uow: Callable[[], TasksUnitOfWork], engine: AsyncEngine
) -> None:
    """Four posts whose due date cannot be converted to UTC (year 10000 once the -23:59
    offset is applied) among 36 good ones: the batch they share fails with an error that is
    neither IntegrityError nor the database being down, and only the four may fail."""
    beyond = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59)))
    group = GroupCommit(uow)
    group.start()

    async def poisoned() -> None:
        task, created = lifecycle.create(
            task_id=uuid4(),
            by=client(),
            title="Poisoned",
            description="",
            category="garden",
            budget_cents=100,
            due_at=beyond,
            location=None,
            now=NOW,
        )
        await group.add(task, None, created)

    try:
        results = await asyncio.gather(
            *(usecases.create_task(group, create_cmd(n), NOW) for n in range(36)),
            *(poisoned() for _ in range(4)),
            return_exceptions=True,
        )
    finally:
        await group.close()
    good, bad = results[:36], results[36:]
    assert all(isinstance(r, Task) for r in good), good
    assert all(isinstance(r, Exception) for r in bad), bad
    tasks, events, _ = await posted_rows(engine)
    assert tasks == {t.id for t in good if isinstance(t, Task)}
    assert sorted(e[0] for e in events) == sorted(str(t) for t in tasks)


async def test_with_the_database_down_a_group_fails_together_without_retrying_each() -> None:
    dead = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/gone")
    group = GroupCommit(lambda: TasksUnitOfWork(dead, producer="tasks"))
    group.start()
    try:
        results = await asyncio.gather(
            *(usecases.create_task(group, create_cmd(n), NOW) for n in range(10)),
            return_exceptions=True,
        )
    finally:
        await group.close()
        await dead.dispose()
    # One attempt for the whole batch, its error for every post (the HTTP layer's 503).
    first, *rest = results
    assert isinstance(first, OSError | OperationalError | InterfaceError), first
    assert all(r is first for r in rest), results


def create_cmd(n: int) -> CreateTask:
    return CreateTask(
        actor=client(), title=f"Chore {n}", description="", category="garden", budget_cents=500
    )


async def test_with_spans_exported_each_batch_is_traced_under_its_posts(
    uow: Callable[[], TasksUnitOfWork], spans: InMemorySpanExporter
) -> None:
    group = GroupCommit(uow)
    group.start()
    tracer = trace.get_tracer("test.http")

    async def post_in_a_request_span(n: int) -> trace.SpanContext:
        with tracer.start_as_current_span(f"POST /tasks #{n}") as request_span:
            await usecases.create_task(group, create_cmd(n), NOW)
            return request_span.get_span_context()

    try:
        requests = await asyncio.gather(*(post_in_a_request_span(n) for n in range(20)))
    finally:
        await group.close()
    batches = [s for s in spans.get_finished_spans() if s.name == "tasks.group_commit"]
    assert 0 < len(batches) < 20, len(batches)  # grouped
    request_ids = sorted(r.span_id for r in requests)
    covered = []
    for batch in batches:
        # The child of one post's request span, linked to the others': never a root.
        assert batch.parent is not None
        assert batch.parent.span_id in request_ids
        assert batch.parent.trace_id in {r.trace_id for r in requests}
        covered += [batch.parent.span_id, *(link.context.span_id for link in batch.links)]
        assert batch.attributes is not None
        assert batch.attributes["tasks.batch_size"] == 1 + len(batch.links)
    assert sorted(covered) == request_ids  # every post's request, once


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
    await usecases.confirm_task(
        uow(), usecases.commands.ConfirmTask(task_id=task.id, actor=owner), NOW
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
    # created, offer, assigned, started, done, completed, review
    assert count == 1 + 1 + 1 + 1 + 1 + 1 + 1
