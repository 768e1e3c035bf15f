"""Task use cases over the fake unit of work: what is stored, what is recorded, what is refused."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from chore_common.errors import Conflict, Forbidden, InvalidInput, PreconditionFailed
from chore_tasks import usecases
from chore_tasks.adapters.group_commit import TransactionEach
from chore_tasks.domain.errors import InvalidTransition, OfferNotFound, StaleVersion, TaskNotFound
from chore_tasks.domain.events import (
    TaskAssigned,
    TaskCancelled,
    TaskCreated,
    TaskDone,
    TaskStarted,
)
from chore_tasks.domain.jobs import JobKind, JobStatus
from chore_tasks.domain.model import Actor, OfferStatus, Status, Task
from chore_tasks.domain.people import PersonStatus
from chore_tasks.usecases.commands import (
    AssignTask,
    BrowseTasks,
    CancelTask,
    CompleteTask,
    CreateTask,
    GetTask,
    MakeOffer,
    StartTask,
)

from .factories import NOW, admin, client, make_offer, make_task, tasker
from .fakes import FakeDatabase, put, stored


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


def create(owner: Actor, **changes: object) -> CreateTask:
    fields: dict[str, object] = {
        "actor": owner,
        "title": "Assemble a wardrobe",
        "description": "Flat-pack, two doors",
        "category": "handyman",
        "budget_cents": 6000,
    }
    return CreateTask(**{**fields, **changes})  # type: ignore[arg-type]


async def test_creating_a_task_stores_it_open_and_records_task_created(db: FakeDatabase) -> None:
    owner = client()
    task = await usecases.create_task(TransactionEach(db.uow), create(owner), NOW)
    assert stored(db, task).status is Status.OPEN
    assert stored(db, task).owner_id == owner.user_id
    [event] = db.events
    assert isinstance(event, TaskCreated)
    assert event.task_id == task.id
    assert db.commits == 1
    assert db.jobs == {}


async def test_a_task_with_a_due_time_gets_an_expiry_job_in_the_same_commit(
    db: FakeDatabase,
) -> None:
    due = NOW + timedelta(days=3)
    task = await usecases.create_task(TransactionEach(db.uow), create(client(), due_at=due), NOW)
    [job] = db.jobs.values()
    assert (job.kind, job.task_id, job.run_at, job.status) == (
        JobKind.EXPIRE_TASK,
        task.id,
        due,
        JobStatus.QUEUED,
    )
    assert db.commits == 1


async def test_a_tasker_cannot_post_a_task_and_nothing_is_stored(db: FakeDatabase) -> None:
    with pytest.raises(Forbidden):
        await usecases.create_task(TransactionEach(db.uow), create(tasker()), NOW)
    assert (db.tasks, db.events, db.commits) == ({}, [], 0)


async def test_anyone_signed_in_reads_an_open_task(db: FakeDatabase) -> None:
    task = make_task()
    put(db, task)
    for who in (client(), tasker(), admin()):
        assert await usecases.get_task(db.uow(), GetTask(task_id=task.id, actor=who), NOW) == task


async def test_reading_a_missing_task_is_not_found(db: FakeDatabase) -> None:
    with pytest.raises(TaskNotFound):
        await usecases.get_task(db.uow(), GetTask(task_id=uuid4(), actor=client()), NOW)


async def test_a_stranger_reading_a_private_task_is_told_it_does_not_exist(
    db: FakeDatabase,
) -> None:
    task = make_task(status=Status.ASSIGNED)
    put(db, task)
    for who in (client(), tasker()):
        with pytest.raises(TaskNotFound):
            await usecases.get_task(db.uow(), GetTask(task_id=task.id, actor=who), NOW)


async def test_a_tasker_who_offered_still_reads_the_task_after_someone_else_got_it(
    db: FakeDatabase,
) -> None:
    loser = tasker()
    task = make_task(status=Status.ASSIGNED)
    put(db, task, make_offer(task, by=loser))
    got = await usecases.get_task(db.uow(), GetTask(task_id=task.id, actor=loser), NOW)
    assert got.id == task.id


async def test_an_open_task_of_a_banned_owner_cannot_be_read_or_offered_on_by_others(
    db: FakeDatabase,
) -> None:
    owner = client()
    task = make_task(owner=owner)
    put(db, task)
    db.people[owner.user_id] = ("Spammer", PersonStatus.BANNED)
    for who in (client(), tasker()):
        with pytest.raises(TaskNotFound):
            await usecases.get_task(db.uow(), GetTask(task_id=task.id, actor=who), NOW)
    with pytest.raises(TaskNotFound):
        await usecases.make_offer(
            db.uow(), MakeOffer(task_id=task.id, actor=tasker(), price_cents=100, message=""), NOW
        )
    assert (db.offers, db.events, db.commits) == ({}, [], 0)
    for who in (owner, admin()):
        assert await usecases.get_task(db.uow(), GetTask(task_id=task.id, actor=who), NOW) == task


async def test_assigning_sets_the_assignee_accepts_the_offer_and_records_it(
    db: FakeDatabase,
) -> None:
    owner, worker = client(), tasker()
    task = make_task(owner=owner)
    offer = make_offer(task, by=worker)
    put(db, task, offer)
    moved = await usecases.assign_task(
        db.uow(), AssignTask(task_id=task.id, offer_id=offer.id, actor=owner, if_match=1), NOW
    )
    assert stored(db, task) == moved
    assert (moved.status, moved.assignee_id, moved.version) == (Status.ASSIGNED, worker.user_id, 2)
    assert db.offers[offer.id].status is OfferStatus.ACCEPTED
    [event] = db.events
    assert isinstance(event, TaskAssigned)
    assert (event.assignee_id, event.version) == (worker.user_id, 2)


async def test_assigning_a_task_with_a_due_time_schedules_the_reminder(db: FakeDatabase) -> None:
    owner = client()
    task = make_task(owner=owner, due_at=NOW + timedelta(hours=6))
    offer = make_offer(task)
    put(db, task, offer)
    await usecases.assign_task(
        db.uow(), AssignTask(task_id=task.id, offer_id=offer.id, actor=owner), NOW
    )
    [job] = db.jobs.values()
    assert (job.kind, job.run_at) == (JobKind.REMIND_ASSIGNEE, NOW + timedelta(hours=5))


async def test_a_stale_if_match_is_a_failed_precondition_and_changes_nothing(
    db: FakeDatabase,
) -> None:
    owner = client()
    task = make_task(owner=owner, version=4)
    offer = make_offer(task)
    put(db, task, offer)
    with pytest.raises(PreconditionFailed):
        await usecases.assign_task(
            db.uow(), AssignTask(task_id=task.id, offer_id=offer.id, actor=owner, if_match=3), NOW
        )
    assert stored(db, task) == task
    assert db.events == []


async def test_a_stranger_with_a_stale_if_match_is_refused_without_learning_the_version(
    db: FakeDatabase,
) -> None:
    task = make_task(version=4)
    offer = make_offer(task)
    put(db, task, offer)
    with pytest.raises(Forbidden):
        await usecases.assign_task(
            db.uow(),
            AssignTask(task_id=task.id, offer_id=offer.id, actor=client(), if_match=1),
            NOW,
        )


async def test_assigning_an_unknown_offer_or_another_task_offer_is_not_found(
    db: FakeDatabase,
) -> None:
    owner = client()
    task, other = make_task(owner=owner), make_task(owner=owner)
    foreign = make_offer(other)
    put(db, task, other, foreign)
    for offer_id in (uuid4(), foreign.id):
        with pytest.raises(OfferNotFound):
            await usecases.assign_task(
                db.uow(), AssignTask(task_id=task.id, offer_id=offer_id, actor=owner), NOW
            )


async def test_of_many_concurrent_assigns_exactly_one_wins(db: FakeDatabase) -> None:
    owner = client()
    task = make_task(owner=owner)
    offers = [make_offer(task) for _ in range(20)]
    put(db, task, *offers)
    results = await asyncio.gather(
        *(
            usecases.assign_task(
                db.uow(), AssignTask(task_id=task.id, offer_id=o.id, actor=owner), NOW
            )
            for o in offers
        ),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, Task)]
    lost = [r for r in results if not isinstance(r, Task)]
    assert len(won) == 1
    assert all(isinstance(r, Conflict) for r in lost), lost
    assert len(db.events_of(TaskAssigned)) == 1
    assert stored(db, task).assignee_id == won[0].assignee_id


async def test_losing_a_race_with_if_match_is_a_failed_precondition(db: FakeDatabase) -> None:
    owner = client()
    task = make_task(owner=owner)
    first, second = make_offer(task), make_offer(task)
    put(db, task, first, second)
    results = await asyncio.gather(
        *(
            usecases.assign_task(
                db.uow(), AssignTask(task_id=task.id, offer_id=o.id, actor=owner, if_match=1), NOW
            )
            for o in (first, second)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Task) for r in results) == 1
    assert sum(isinstance(r, PreconditionFailed) for r in results) == 1


async def test_the_assignee_starts_then_completes_and_each_move_is_recorded(
    db: FakeDatabase,
) -> None:
    worker = tasker()
    task = make_task(status=Status.ASSIGNED, assignee=worker, version=2)
    put(db, task)
    started = await usecases.start_task(db.uow(), StartTask(task_id=task.id, actor=worker), NOW)
    done = await usecases.complete_task(
        db.uow(), CompleteTask(task_id=task.id, actor=worker, if_match=3), NOW
    )
    assert (started.status, done.status, done.version) == (Status.IN_PROGRESS, Status.DONE, 4)
    assert [type(e) for e in db.events] == [TaskStarted, TaskDone]
    [job] = db.jobs.values()  # its auto-confirm, written with the move
    assert (job.kind, job.task_id, job.run_at) == (
        JobKind.AUTO_CONFIRM,
        task.id,
        NOW + timedelta(hours=72),
    )
    assert db.commits == 2


async def test_the_owner_cannot_start_or_complete_their_own_task(db: FakeDatabase) -> None:
    owner = client()
    task = make_task(owner=owner, status=Status.ASSIGNED)
    put(db, task)
    with pytest.raises(Forbidden):
        await usecases.start_task(db.uow(), StartTask(task_id=task.id, actor=owner), NOW)


async def test_completing_a_task_not_yet_started_is_an_invalid_transition(
    db: FakeDatabase,
) -> None:
    worker = tasker()
    task = make_task(status=Status.ASSIGNED, assignee=worker)
    put(db, task)
    with pytest.raises(InvalidTransition):
        await usecases.complete_task(db.uow(), CompleteTask(task_id=task.id, actor=worker), NOW)
    assert stored(db, task) == task


async def test_the_owner_cancels_with_a_reason(db: FakeDatabase) -> None:
    owner = client()
    task = make_task(owner=owner, status=Status.ASSIGNED)
    put(db, task)
    cancelled = await usecases.cancel_task(
        db.uow(), CancelTask(task_id=task.id, actor=owner, reason="moved house"), NOW
    )
    assert (cancelled.status, cancelled.cancel_reason) == (Status.CANCELLED, "moved house")
    [event] = db.events
    assert isinstance(event, TaskCancelled)
    assert event.assignee_id == task.assignee_id


async def test_client_b_cannot_cancel_client_a_open_task(db: FakeDatabase) -> None:
    task = make_task()
    put(db, task)
    with pytest.raises(Forbidden):
        await usecases.cancel_task(db.uow(), CancelTask(task_id=task.id, actor=client()), NOW)
    assert stored(db, task) == task


async def test_client_b_cannot_even_find_client_a_assigned_task(db: FakeDatabase) -> None:
    task = make_task(status=Status.ASSIGNED)
    put(db, task)
    with pytest.raises(TaskNotFound):
        await usecases.cancel_task(db.uow(), CancelTask(task_id=task.id, actor=client()), NOW)


async def test_cancelling_a_completed_task_is_an_invalid_transition(db: FakeDatabase) -> None:
    owner = client()
    task = make_task(owner=owner, status=Status.COMPLETED)
    put(db, task)
    with pytest.raises(InvalidTransition):
        await usecases.cancel_task(db.uow(), CancelTask(task_id=task.id, actor=owner), NOW)
    assert db.events == []


async def test_a_concurrent_change_without_if_match_is_a_conflict(db: FakeDatabase) -> None:
    owner = client()
    task = make_task(owner=owner)
    put(db, task)
    uow = db.uow()
    async with uow:
        loaded = await uow.tasks.get(task.id)
        assert loaded is not None
        # Someone else cancels between our load and our commit.
        await usecases.cancel_task(db.uow(), CancelTask(task_id=task.id, actor=owner), NOW)
        with pytest.raises(StaleVersion):
            await uow.tasks.save(loaded, expected_version=loaded.version)


def browse(actor: Actor, **changes: object) -> BrowseTasks:
    return BrowseTasks(**{"actor": actor, **changes})  # type: ignore[arg-type]


async def test_browsing_shows_open_tasks_and_my_private_ones_but_not_others_private(
    db: FakeDatabase,
) -> None:
    me = client()
    public, mine = make_task(), make_task(owner=me, status=Status.CANCELLED)
    hidden = make_task(status=Status.CANCELLED)
    put(db, public, mine, hidden)
    page = await usecases.browse_tasks(db.uow(), browse(me), NOW)
    assert {t.id for t in page.items} == {public.id, mine.id}
    assert page.next_key is None


async def test_browsing_filters_by_status_category_text_owner_and_assignee(
    db: FakeDatabase,
) -> None:
    me, worker = client(), tasker()
    a = make_task(owner=me)
    b = make_task(owner=me, status=Status.ASSIGNED, assignee=worker)
    c = replace(make_task(), title="Walk the dog", category="pets")
    put(db, a, b, c)

    async def ids(actor: Actor, **changes: object) -> set[object]:
        page = await usecases.browse_tasks(db.uow(), browse(actor, **changes), NOW)
        return {t.id for t in page.items}

    assert await ids(me, status=Status.ASSIGNED) == {b.id}
    assert await ids(me, categories=("pets",)) == {c.id}
    assert await ids(me, q="  DOG ") == {c.id}
    assert await ids(me, owner_me=True) == {a.id, b.id}
    assert await ids(worker, assignee_me=True) == {b.id}


async def test_browsing_pages_never_repeat_or_skip_when_tasks_are_added_meanwhile(
    db: FakeDatabase,
) -> None:
    owner = client()
    newest_first = [make_task(owner=owner, created_at=NOW - timedelta(minutes=n)) for n in range(7)]
    put(db, *newest_first)
    seen: list[object] = []
    after = None
    while True:
        page = await usecases.browse_tasks(db.uow(), browse(owner, limit=3, after=after), NOW)
        seen += [t.id for t in page.items]
        put(db, make_task(owner=owner, created_at=NOW + timedelta(minutes=len(seen))))
        if page.next_key is None:
            break
        after = page.next_key
    assert seen == [t.id for t in newest_first]


async def test_tasks_created_in_the_same_instant_are_paged_by_id_without_loss(
    db: FakeDatabase,
) -> None:
    owner = client()
    same = [make_task(owner=owner, created_at=NOW) for _ in range(5)]
    put(db, *same)
    seen: list[object] = []
    after = None
    while True:
        page = await usecases.browse_tasks(db.uow(), browse(owner, limit=2, after=after), NOW)
        seen += [t.id for t in page.items]
        if (after := page.next_key) is None:
            break
    assert seen == sorted((t.id for t in same), reverse=True)


async def test_a_limit_outside_one_to_a_hundred_is_refused(db: FakeDatabase) -> None:
    for limit in (0, 101):
        with pytest.raises(InvalidInput):
            await usecases.browse_tasks(db.uow(), browse(client(), limit=limit), NOW)
