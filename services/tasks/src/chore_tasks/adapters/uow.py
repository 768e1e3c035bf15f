"""Tasks' unit of work: one transaction over tasks, offers, reviews, ratings, disputes, jobs,
people and the outbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Self
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.outbox.record import RelayHandoff
from chore_common.uow import UnitOfWork
from chore_tasks.adapters.contracts import contract_of
from chore_tasks.adapters.exports import UserDataRepository
from chore_tasks.adapters.reports import ReportRepository
from chore_tasks.adapters.repository import (
    DisputeRepository,
    JobRepository,
    OfferRepository,
    PeopleRepository,
    RatingRepository,
    ReviewRepository,
    TaskEditRepository,
    TaskRepository,
)
from chore_tasks.domain.events import DomainEvent, TaskEvent

TasksChanged = Callable[[list[tuple[UUID, int]]], Awaitable[None]]
PeopleChanged = Callable[[list[UUID]], Awaitable[None]]


class TasksUnitOfWork(UnitOfWork):
    """`on_tasks_changed` hears `(task_id, version)` of every task this unit of work changed,
    and `on_people_changed` the ids of the people whose account status it set, after the
    commit and before `commit()` returns (so before the HTTP response)."""

    tasks: TaskRepository
    offers: OfferRepository
    reviews: ReviewRepository
    ratings: RatingRepository
    jobs: JobRepository
    edits: TaskEditRepository
    disputes: DisputeRepository
    user_data: UserDataRepository
    reports: ReportRepository
    people: PeopleRepository

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        producer: str = "",
        wake_relay: Callable[[], None] | None = None,
        relay: RelayHandoff | None = None,
        on_tasks_changed: TasksChanged | None = None,
        on_people_changed: PeopleChanged | None = None,
    ) -> None:
        super().__init__(engine, producer=producer, wake_relay=wake_relay, relay=relay)
        self._on_tasks_changed = on_tasks_changed
        self._on_people_changed = on_people_changed
        self._changed: list[tuple[UUID, int]] = []

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.tasks = TaskRepository(self.conn)
        self.offers = OfferRepository(self.conn)
        self.reviews = ReviewRepository(self.conn)
        self.ratings = RatingRepository(self.conn)
        self.jobs = JobRepository(self.conn)
        self.edits = TaskEditRepository(self.conn)
        self.disputes = DisputeRepository(self.conn)
        self.user_data = UserDataRepository(self.conn)
        self.reports = ReportRepository(self.conn)
        self.people = PeopleRepository(self.conn)
        self._changed = []
        return self

    def record(self, event: DomainEvent) -> None:
        """Publish `event` as its contract once this transaction commits (outbox row, same
        transaction); a task event also tells the read caches after the commit."""
        if isinstance(event, TaskEvent):
            self._changed.append((event.task_id, event.version))
        self.outbox.add(contract_of(event))

    async def commit(self) -> None:
        changed, self._changed = self._changed, []
        people, self.people.changed = self.people.changed, []
        await super().commit()
        if changed and self._on_tasks_changed is not None:
            await self._on_tasks_changed(changed)
        if people and self._on_people_changed is not None:
            await self._on_people_changed(people)
