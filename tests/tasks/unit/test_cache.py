"""The read cache's rules: never serve or store the past, bounded size and age, and no trust
across a NATS reconnect (invalidations may have been missed)."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

import pytest

from chore_tasks import usecases
from chore_tasks.adapters.cache import TaskCache
from chore_tasks.domain.errors import TaskNotFound
from chore_tasks.domain.model import Status
from chore_tasks.domain.people import PersonStatus
from chore_tasks.usecases.commands import GetTask

from .factories import NOW, client, make_offer, make_task, tasker
from .fakes import FakeDatabase, put


class Link:
    def __init__(self) -> None:
        self.connected, self.reconnects = True, 0

    def __call__(self) -> tuple[bool, int]:
        return self.connected, self.reconnects


def test_a_cached_task_is_served_until_a_newer_version_is_announced() -> None:
    cache, task = TaskCache(10), make_task(version=3)
    cache.put(task)
    assert cache.get(task.id) == task
    cache.invalidate(task.id, 3)  # our own version echoed back: still current
    assert cache.get(task.id) == task
    cache.invalidate(task.id, 4)
    assert cache.get(task.id) is None


def test_a_read_that_raced_a_newer_write_is_not_cached() -> None:
    cache, task = TaskCache(10), make_task(version=1)
    cache.invalidate(task.id, 2)  # the write's broadcast lands before the slow read returns
    cache.put(task)
    assert cache.get(task.id) is None
    newer = replace(task, version=2)
    cache.put(newer)
    assert cache.get(task.id) == newer


def test_the_least_recently_used_task_goes_first() -> None:
    cache = TaskCache(2)
    a, b, c = make_task(), make_task(), make_task()
    cache.put(a)
    cache.put(b)
    assert cache.get(a.id) == a
    cache.put(c)
    assert cache.get(b.id) is None
    assert {cache.get(a.id), cache.get(c.id)} == {a, c}
    assert len(cache) == 2


def test_entries_expire_after_their_time_to_live() -> None:
    cache, task = TaskCache(10, ttl_s=-1), make_task()
    cache.put(task)
    assert cache.get(task.id) is None


def test_nothing_is_trusted_while_disconnected_or_from_before_a_reconnect() -> None:
    link = Link()
    cache, task = TaskCache(10, link=link), make_task()
    cache.put(task)
    link.connected = False
    assert cache.get(task.id) is None
    cache.put(task)
    link.connected, link.reconnects = True, 1
    assert cache.get(task.id) is None
    cache.put(task)
    assert cache.get(task.id) == task


def test_a_cache_of_size_zero_keeps_nothing() -> None:
    cache, task = TaskCache(0), make_task()
    cache.put(task)
    assert cache.get(task.id) is None


async def test_reading_a_cached_task_does_not_read_it_from_the_database() -> None:
    db, cache = FakeDatabase(), TaskCache(10)
    task = make_task()
    put(db, task)
    reader = client()
    first = await usecases.get_task(
        db.uow(), GetTask(task_id=task.id, actor=reader), NOW, cache=cache
    )
    del db.tasks[task.id]
    again = await usecases.get_task(
        db.uow(), GetTask(task_id=task.id, actor=reader), NOW, cache=cache
    )
    assert first == again == task


async def test_a_cached_private_task_is_still_hidden_from_strangers() -> None:
    db, cache = FakeDatabase(), TaskCache(10)
    task = make_task(status=Status.ASSIGNED)
    cache.put(task)
    with pytest.raises(TaskNotFound):
        await usecases.get_task(
            db.uow(), GetTask(task_id=task.id, actor=client()), NOW, cache=cache
        )


async def test_a_cached_open_task_hides_once_its_owners_ban_is_dropped_from_the_cache() -> None:
    db, cache = FakeDatabase(), TaskCache(10)
    task, reader = make_task(), tasker()
    put(db, task)
    cache.put(task)

    async def read() -> object:
        cmd = GetTask(task_id=task.id, actor=reader)
        return await usecases.get_task(db.uow(), cmd, NOW, cache=cache)

    assert await read() == task
    assert cache.person_status(task.owner_id) is PersonStatus.ACTIVE
    # The ban's unit of work drops the status here (and on every replica) after its commit.
    db.people[task.owner_id] = ("Spammer", PersonStatus.BANNED)
    cache.drop_person(task.owner_id)
    with pytest.raises(TaskNotFound):
        await read()
    # Kept now: answered without asking the database again, until the next change.
    db.people[task.owner_id] = ("Spammer", PersonStatus.ACTIVE)
    with pytest.raises(TaskNotFound):
        await read()
    cache.drop_person(task.owner_id)
    assert await read() == task


def test_a_status_read_while_one_was_dropped_is_not_kept() -> None:
    cache, owner = TaskCache(10), uuid4()
    before = cache.people_generation()  # a read of the database starts
    cache.drop_person(uuid4())  # a change commits meanwhile (anyone's)
    cache.put_person_status(owner, PersonStatus.ACTIVE, before)
    assert cache.person_status(owner) is None
    cache.put_person_status(owner, PersonStatus.BANNED, cache.people_generation())
    assert cache.person_status(owner) is PersonStatus.BANNED


def test_no_status_is_trusted_while_disconnected_or_from_before_a_reconnect() -> None:
    link = Link()
    cache, owner = TaskCache(10, link=link), uuid4()
    cache.put_person_status(owner, PersonStatus.BANNED, cache.people_generation())
    link.connected = False
    assert cache.person_status(owner) is None
    cache.put_person_status(owner, PersonStatus.BANNED, cache.people_generation())
    link.connected, link.reconnects = True, 1
    assert cache.person_status(owner) is None
    assert TaskCache(0).person_status(owner) is None


async def test_a_tasker_who_offered_on_a_cached_private_task_is_checked_in_the_database() -> None:
    db, cache = FakeDatabase(), TaskCache(10)
    task, offerer = make_task(status=Status.ASSIGNED), tasker()
    put(db, task, make_offer(task, by=offerer))
    cache.put(task)
    got = await usecases.get_task(
        db.uow(), GetTask(task_id=task.id, actor=offerer), NOW, cache=cache
    )
    assert got == task
