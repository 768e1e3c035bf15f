"""The read cache of tasks: in process, dropped on every replica by the task's own events.

- A write's unit of work, right after its commit and before the HTTP response, drops the
  task here and broadcasts `(task_id, version)` on core NATS (`fanout.tasks.cache`), which
  every replica hears within a millisecond or so. Each replica also listens to the tasks'
  published events (`tasks.task.*`, the relay's publish is a plain NATS publish too), so a
  change made by any writer, with or without this hook, invalidates.
- A read that raced a change cannot re-insert the old row: invalidations remember the
  newest version seen per task, and older versions are never cached or served.
- Beside the tasks, it keeps their owners' account statuses (an open task of a suspended,
  banned or deleted owner is hidden: domain/people.py). The unit of work that changes a
  status drops it here and broadcasts the person's id (`fanout.tasks.cache.people`) after
  its commit. A status read from the database that raced such a change is not kept: each
  drop moves a generation, and a status is kept only if none moved while it was read.
- Core NATS is at-most-once: while this replica is disconnected, and for entries cached
  before its last reconnect, the cache is bypassed. Entries also expire after `ttl_s`, a
  bound on any staleness nothing else catches.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from pydantic import BaseModel, ValidationError

from chore_common.bus.fanout import broadcast, listen
from chore_common.contracts.envelope import Envelope
from chore_tasks.domain.model import Task
from chore_tasks.domain.people import PersonStatus

log = logging.getLogger(__name__)

TOPIC = "tasks.cache"
PEOPLE_TOPIC = "tasks.cache.people"
EVENTS = "tasks.task.>"


class TaskChanged(BaseModel):
    task_id: UUID
    version: int


class PersonChanged(BaseModel):
    user_id: UUID


class TaskCache:
    """task id -> Task, least recently used first out; knows the newest version per task."""

    def __init__(
        self,
        size: int,
        *,
        ttl_s: float = 60.0,
        link: Callable[[], tuple[bool, int]] = lambda: (True, 0),
    ) -> None:
        self.size = size
        self.ttl_s = ttl_s
        # (connected, reconnect count): an entry is trusted only on the link it was cached on.
        self.link = link
        self._tasks: OrderedDict[UUID, tuple[Task, float, int]] = OrderedDict()
        self._newest: OrderedDict[UUID, int] = OrderedDict()
        self._people: OrderedDict[UUID, tuple[PersonStatus, float, int]] = OrderedDict()
        self._people_generation = 0  # moves on every status dropped
        self.hits = self.misses = 0

    def get(self, task_id: UUID) -> Task | None:
        entry = self._tasks.get(task_id)
        connected, epoch = self.link()
        if entry is None or not connected:
            self.misses += 1
            return None
        task, expires, cached_epoch = entry
        if cached_epoch != epoch or expires < time.monotonic():
            del self._tasks[task_id]
            self.misses += 1
            return None
        self._tasks.move_to_end(task_id)
        self.hits += 1
        return task

    def put(self, task: Task) -> None:
        connected, epoch = self.link()
        if self.size <= 0 or not connected or task.version < self._newest.get(task.id, 0):
            return  # a read that raced a newer write: never cache the past
        self._tasks[task.id] = (task, time.monotonic() + self.ttl_s, epoch)
        self._tasks.move_to_end(task.id)
        while len(self._tasks) > self.size:
            self._tasks.popitem(last=False)

    def invalidate(self, task_id: UUID, version: int) -> None:
        entry = self._tasks.get(task_id)
        if entry is not None and entry[0].version < version:
            del self._tasks[task_id]
        if version > self._newest.get(task_id, 0):
            self._newest[task_id] = version
            self._newest.move_to_end(task_id)
            # Remember more versions than entries: a forgotten version re-opens the race.
            while len(self._newest) > 4 * max(self.size, 1):
                self._newest.popitem(last=False)

    def person_status(self, user_id: UUID) -> PersonStatus | None:
        """The account status kept for `user_id`, or None: read it from the database (after
        taking `people_generation()`) and `put_person_status` it."""
        entry = self._people.get(user_id)
        connected, epoch = self.link()
        if entry is None or not connected:
            return None
        status, expires, cached_epoch = entry
        if cached_epoch != epoch or expires < time.monotonic():
            del self._people[user_id]
            return None
        self._people.move_to_end(user_id)
        return status

    def people_generation(self) -> int:
        return self._people_generation

    def put_person_status(self, user_id: UUID, status: PersonStatus, generation: int) -> None:
        """Keep a status read from the database since `generation` was taken, unless a
        status was dropped meanwhile: that read may predate the change."""
        connected, epoch = self.link()
        if self.size <= 0 or not connected or generation != self._people_generation:
            return
        self._people[user_id] = (status, time.monotonic() + self.ttl_s, epoch)
        self._people.move_to_end(user_id)
        while len(self._people) > self.size:
            self._people.popitem(last=False)

    def drop_person(self, user_id: UUID) -> None:
        self._people_generation += 1
        self._people.pop(user_id, None)

    def __len__(self) -> int:
        return len(self._tasks)


class CacheInvalidator:
    """Tells this replica's cache and every other replica that tasks changed."""

    def __init__(self, cache: TaskCache, nc: NATS) -> None:
        self.cache = cache
        self.nc = nc

    async def tasks_changed(self, changes: Iterable[tuple[UUID, int]]) -> None:
        for task_id, version in changes:
            if version <= 1:
                # A task's first version invalidates nothing anywhere (only older versions
                # are dropped), so creating a task costs no broadcast.
                continue
            self.cache.invalidate(task_id, version)
            try:
                await broadcast(self.nc, TOPIC, TaskChanged(task_id=task_id, version=version))
            except Exception:  # NATS down: other replicas bypass their caches until back
                log.warning("cache.broadcast_failed", extra={"task_id": str(task_id)})

    async def people_changed(self, user_ids: Iterable[UUID]) -> None:
        for user_id in user_ids:
            self.cache.drop_person(user_id)
            try:
                await broadcast(self.nc, PEOPLE_TOPIC, PersonChanged(user_id=user_id))
            except Exception:  # NATS down: other replicas bypass their caches until back
                log.warning("cache.broadcast_failed", extra={"user_id": str(user_id)})

    @asynccontextmanager
    async def listening(self) -> AsyncIterator[None]:
        """Hear the other replicas' broadcasts and the tasks' published events while inside."""
        subs = [
            await listen(self.nc, TOPIC, TaskChanged, self.on_broadcast),
            await listen(self.nc, PEOPLE_TOPIC, PersonChanged, self.on_person_changed),
            await self.nc.subscribe(EVENTS, cb=self.on_event),
        ]
        try:
            yield
        finally:
            for sub in subs:
                await sub.unsubscribe()

    async def on_broadcast(self, change: TaskChanged) -> None:
        self.cache.invalidate(change.task_id, change.version)

    async def on_person_changed(self, change: PersonChanged) -> None:
        self.cache.drop_person(change.user_id)

    async def on_event(self, msg: Msg) -> None:
        try:
            data: dict[str, Any] = Envelope.from_bytes(msg.data).data
            self.cache.invalidate(UUID(str(data["task_id"])), int(data["version"]))
        except (ValidationError, KeyError, ValueError, TypeError):
            log.warning("cache.bad_event", extra={"subject": msg.subject})


def nats_link(nc: NATS) -> Callable[[], tuple[bool, int]]:
    def link() -> tuple[bool, int]:
        return nc.is_connected, int(nc.stats["reconnects"])

    return link
