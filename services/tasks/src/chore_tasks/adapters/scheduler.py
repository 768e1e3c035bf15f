"""The durable scheduler: claim due jobs from the jobs table, run each, record the outcome.

ADR 0006 (docs/adr/0006-tasks-scheduler.md) says why this is a table and not a library.
- Once, however many replicas: a claim marks a batch RUNNING in one transaction. PostgreSQL
  picks rows `FOR UPDATE SKIP LOCKED`, so replicas claim disjoint batches side by side;
  SQLite takes its write lock at BEGIN (chore_common.db), so claims simply queue.
- Exactly-once effects: a job's use case finishes the job in the same transaction as its
  event (`usecases.scheduled`); the claim's version bump makes a stale runner's finish fail.
- A runner that dies holds its jobs only until their lease lapses; then any replica
  reclaims them (counted as another try).
- Failures back off (`domain.jobs.RetryPolicy`) and end FAILED with the error kept for the
  admin page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.clock import utcnow
from chore_common.db import is_sqlite
from chore_common.errors import Conflict
from chore_tasks.adapters.repository import job_of, values_of
from chore_tasks.adapters.tables import JOBS
from chore_tasks.domain import jobs
from chore_tasks.domain.jobs import Job, JobKind, JobStatus, RetryPolicy
from chore_tasks.usecases.commands import RecordJobFailure
from chore_tasks.usecases.ports import UowFactory
from chore_tasks.usecases.scheduled import JOB_RUNNERS, JobRunner, record_job_failure

log = logging.getLogger(__name__)

JOBS_RUN = Counter(
    "tasks_jobs_run_total",
    "Scheduler job runs by kind and outcome (done, failed_try, lost)",
    ["kind", "outcome"],
)
_CLAIMED_FIELDS = ("status", "attempts", "locked_until", "version", "updated_at")


class Scheduler:
    def __init__(
        self,
        engine: AsyncEngine,
        uow: UowFactory,
        policy: RetryPolicy,
        *,
        poll_s: float = 1.0,
        batch: int = 50,
        concurrency: int = 8,
        runners: Mapping[JobKind, JobRunner] = JOB_RUNNERS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.uow = uow
        self.policy = policy
        self.poll_s = poll_s
        self.batch = batch
        self.runners = runners
        self.clock = clock
        self.skip_locked = not is_sqlite(str(engine.url))
        self._slots = asyncio.Semaphore(concurrency)
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Look for due jobs now (an admin made one due); cheap and safe to call often."""
        self._wakeup.set()

    async def claim(self, now: datetime) -> list[Job]:
        """Mark up to `batch` due jobs RUNNING under a lease, in one transaction."""
        due = or_(
            (JOBS.c.status == JobStatus.QUEUED.value) & (JOBS.c.run_at <= now),
            (JOBS.c.status == JobStatus.RUNNING.value) & (JOBS.c.locked_until <= now),
        )
        # Only kinds this version knows: a row a newer version wrote (mid-deploy) waits for
        # a replica that can run it instead of failing every claim here.
        known = JOBS.c.kind.in_([kind.value for kind in self.runners])
        query = select(JOBS).where(due, known).order_by(JOBS.c.run_at).limit(self.batch)
        if self.skip_locked:
            query = query.with_for_update(skip_locked=True)
        async with self.engine.begin() as conn:
            rows = (await conn.execute(query)).mappings().all()
            if not rows:
                return []
            claimed = [jobs.claim(job_of(row), now=now, policy=self.policy) for row in rows]
            await conn.execute(
                update(JOBS)
                .where(JOBS.c.id == bindparam("b_id"))
                .values({name: bindparam(f"b_{name}") for name in _CLAIMED_FIELDS}),
                [_claim_params(job) for job in claimed],
            )
        return claimed

    async def run_due(self) -> int:
        """Claim one batch and run it; returns how many jobs were claimed."""
        claimed = await self.claim(self.clock())
        if claimed:
            await asyncio.gather(*(self._run(job) for job in claimed))
        return len(claimed)

    async def _run(self, job: Job) -> None:
        async with self._slots:
            try:
                await self.runners[job.kind](self.uow(), job, self.clock())
            except Conflict as exc:
                if exc.code != "job_lost":
                    await self._failed(job, exc)
                    return
                JOBS_RUN.labels(job.kind.value, "lost").inc()
                log.warning("scheduler.job_lost", extra={"job_id": str(job.id)})
            except Exception as exc:  # any failure is this job's, retried with backoff
                await self._failed(job, exc)
            else:
                JOBS_RUN.labels(job.kind.value, "done").inc()

    async def _failed(self, job: Job, exc: Exception) -> None:
        JOBS_RUN.labels(job.kind.value, "failed_try").inc()
        error = f"{type(exc).__name__}: {exc}"
        log.warning(
            "scheduler.job_failed",
            extra={"job_id": str(job.id), "kind": job.kind.value, "attempt": job.attempts},
        )
        cmd = RecordJobFailure(job_id=job.id, attempt=job.attempts, error=error)
        try:
            await record_job_failure(self.uow(), cmd, self.clock(), retry=self.policy)
        except Exception:
            # The lease will lapse and the job be tried again: nothing is lost.
            log.exception("scheduler.record_failure_failed", extra={"job_id": str(job.id)})

    async def run_forever(self) -> None:
        while not self._stopping:
            try:
                claimed = await self.run_due()
            except Exception:  # database down: keep polling, readiness reports it
                log.warning("scheduler.poll_failed", exc_info=True)
                claimed = 0
            if claimed >= self.batch or self._stopping:
                continue  # more may be due right now
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.poll_s)

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run_forever(), name="tasks-scheduler")
        return self._task

    @contextlib.asynccontextmanager
    async def running(self, *, grace_s: float = 5.0) -> AsyncIterator[None]:
        """Run while inside; on the way out, stop as `stop` does."""
        self.start()
        try:
            yield
        finally:
            await self.stop(grace_s=grace_s)

    async def stop(self, *, grace_s: float = 5.0) -> None:
        """Claim nothing more and let running jobs finish; cancel them after `grace_s`
        (their leases lapse and another replica takes them over)."""
        if self._task is None:
            return
        self._stopping = True
        self._wakeup.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_s)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None


def _claim_params(job: Job) -> dict[str, Any]:
    values = values_of(job)
    return {"b_id": job.id, **{f"b_{name}": values[name] for name in _CLAIMED_FIELDS}}
