"""Tasks' unit of work: one transaction over tasks, offers, reviews, jobs and the outbox."""

from __future__ import annotations

from typing import Self

from chore_common.db import UnitOfWork

from chore_tasks.adapters.outbox import TasksOutbox
from chore_tasks.adapters.repository import (
    JobRepository,
    OfferRepository,
    ReviewRepository,
    TaskRepository,
)


class TasksUnitOfWork(UnitOfWork):
    tasks: TaskRepository
    offers: OfferRepository
    reviews: ReviewRepository
    jobs: JobRepository
    outbox: TasksOutbox

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.outbox = TasksOutbox(self.session, self.producer)
        self.tasks = TaskRepository(self.session)
        self.offers = OfferRepository(self.session)
        self.reviews = ReviewRepository(self.session)
        self.jobs = JobRepository(self.session)
        return self
