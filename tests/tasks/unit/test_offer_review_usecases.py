"""Offer and review use cases: one open offer each, offers seen by the right eyes, one review."""

from __future__ import annotations

import asyncio

import pytest

from chore_common.errors import Conflict, Forbidden
from chore_tasks import usecases
from chore_tasks.domain.errors import TaskNotFound
from chore_tasks.domain.events import OfferCreated, ReviewCreated
from chore_tasks.domain.model import Actor, Offer, OfferStatus, Status
from chore_tasks.usecases.commands import ListOffers, MakeOffer, ReviewTask

from .factories import NOW, admin, client, make_offer, make_task, tasker
from .fakes import FakeDatabase, put


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


def offer_on(task_id: object, by: Actor, price: int = 3500) -> MakeOffer:
    return MakeOffer(task_id=task_id, actor=by, price_cents=price, message="Free on Sunday")  # type: ignore[arg-type]


async def test_a_tasker_offers_on_an_open_task_and_the_owner_is_named_in_the_event(
    db: FakeDatabase,
) -> None:
    owner, worker = client(), tasker()
    task = make_task(owner=owner)
    put(db, task)
    offer = await usecases.make_offer(db.uow(), offer_on(task.id, worker), NOW)
    assert db.offers[offer.id] == offer
    assert (offer.status, offer.tasker_id, offer.price_cents) == (
        OfferStatus.OPEN,
        worker.user_id,
        3500,
    )
    [event] = db.events
    assert isinstance(event, OfferCreated)
    assert (event.owner_id, event.tasker_id, event.offer_id) == (
        owner.user_id,
        worker.user_id,
        offer.id,
    )


async def test_a_second_open_offer_by_the_same_tasker_is_a_conflict(db: FakeDatabase) -> None:
    worker = tasker()
    task = make_task()
    put(db, task)
    await usecases.make_offer(db.uow(), offer_on(task.id, worker), NOW)
    with pytest.raises(Conflict) as caught:
        await usecases.make_offer(db.uow(), offer_on(task.id, worker, 3000), NOW)
    assert caught.value.code == "offer_exists"
    assert len(db.offers) == 1


async def test_two_racing_offers_by_one_tasker_store_only_one(db: FakeDatabase) -> None:
    worker = tasker()
    task = make_task()
    put(db, task)
    results = await asyncio.gather(
        *(usecases.make_offer(db.uow(), offer_on(task.id, worker), NOW) for _ in range(5)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Offer) for r in results) == 1
    assert len(db.offers) == 1
    assert len(db.events_of(OfferCreated)) == 1


async def test_different_taskers_each_make_one_offer(db: FakeDatabase) -> None:
    task = make_task()
    put(db, task)
    for _ in range(3):
        await usecases.make_offer(db.uow(), offer_on(task.id, tasker()), NOW)
    assert len(db.offers) == 3


async def test_an_offer_on_a_private_task_of_someone_else_is_not_found(db: FakeDatabase) -> None:
    task = make_task(status=Status.ASSIGNED)
    put(db, task)
    with pytest.raises(TaskNotFound):
        await usecases.make_offer(db.uow(), offer_on(task.id, tasker()), NOW)


async def test_a_client_cannot_make_an_offer(db: FakeDatabase) -> None:
    task = make_task()
    put(db, task)
    with pytest.raises(Forbidden):
        await usecases.make_offer(db.uow(), offer_on(task.id, client()), NOW)


async def test_the_owner_sees_every_offer_a_tasker_only_their_own(db: FakeDatabase) -> None:
    owner, me = client(), tasker()
    task = make_task(owner=owner)
    mine, theirs = make_offer(task, by=me), make_offer(task)
    put(db, task, mine, theirs)

    async def listed(who: Actor) -> set[object]:
        page = await usecases.list_offers(db.uow(), ListOffers(task_id=task.id, actor=who), NOW)
        return {o.id for o in page.items}

    assert await listed(owner) == {mine.id, theirs.id}
    assert await listed(admin()) == {mine.id, theirs.id}
    assert await listed(me) == {mine.id}
    assert await listed(tasker()) == set()
    with pytest.raises(Forbidden):
        await listed(client())


async def test_offers_are_listed_oldest_first_in_pages(db: FakeDatabase) -> None:
    owner = client()
    task = make_task(owner=owner)
    put(db, task)
    made = [await usecases.make_offer(db.uow(), offer_on(task.id, tasker()), NOW) for _ in range(5)]
    seen: list[object] = []
    after = None
    while True:
        page = await usecases.list_offers(
            db.uow(), ListOffers(task_id=task.id, actor=owner, limit=2, after=after), NOW
        )
        seen += [o.id for o in page.items]
        if (after := page.next_key) is None:
            break
    assert sorted(seen) == sorted(o.id for o in made)  # type: ignore[type-var]
    assert len(seen) == 5


def review(task_id: object, by: Actor, rating: int = 5) -> ReviewTask:
    return ReviewTask(task_id=task_id, actor=by, rating=rating, comment="Great")  # type: ignore[arg-type]


async def test_the_owner_reviews_a_completed_task_once(db: FakeDatabase) -> None:
    owner, worker = client(), tasker()
    task = make_task(owner=owner, assignee=worker, status=Status.COMPLETED)
    put(db, task)
    written = await usecases.review_task(db.uow(), review(task.id, owner), NOW)
    assert (written.subject_id, written.rating) == (worker.user_id, 5)
    [event] = db.events
    assert isinstance(event, ReviewCreated)
    with pytest.raises(Conflict) as caught:
        await usecases.review_task(db.uow(), review(task.id, owner, 1), NOW)
    assert caught.value.code == "already_reviewed"
    assert len(db.reviews) == 1


async def test_two_racing_reviews_store_only_one(db: FakeDatabase) -> None:
    owner = client()
    task = make_task(owner=owner, status=Status.COMPLETED)
    put(db, task)
    results = await asyncio.gather(
        *(usecases.review_task(db.uow(), review(task.id, owner), NOW) for _ in range(3)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Conflict) for r in results) == 2
    assert len(db.reviews) == 1
    assert len(db.events_of(ReviewCreated)) == 1


async def test_client_b_cannot_review_client_a_task(db: FakeDatabase) -> None:
    task = make_task(status=Status.COMPLETED)
    put(db, task)
    # Completed tasks are private: to a stranger it is not there at all.
    with pytest.raises(TaskNotFound):
        await usecases.review_task(db.uow(), review(task.id, client()), NOW)


async def test_a_tasker_who_only_offered_cannot_review(db: FakeDatabase) -> None:
    task = make_task(assignee=tasker(), status=Status.COMPLETED)
    other = tasker()
    put(db, task, make_offer(task, by=other))
    with pytest.raises(Forbidden) as caught:
        await usecases.review_task(db.uow(), review(task.id, other), NOW)
    assert caught.value.code == "not_participant"


async def test_reviewing_before_completion_is_a_conflict(db: FakeDatabase) -> None:
    owner = client()
    task = make_task(owner=owner, status=Status.IN_PROGRESS)
    put(db, task)
    with pytest.raises(Conflict):
        await usecases.review_task(db.uow(), review(task.id, owner), NOW)
    assert db.reviews == {}
