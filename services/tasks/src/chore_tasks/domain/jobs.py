"""Scheduling rules for durable jobs: when they run, how they retry, when they give up.

Pure: the scheduler adapter claims rows and calls these to compute each job's next state.
A job's life: QUEUED --claim--> RUNNING --succeed--> DONE
                                        --fail--> QUEUED (after a backoff) | FAILED (last try)
A RUNNING job holds a lease (`locked_until`); a runner that dies mid-job lets the lease lapse
and another replica reclaims it, so a job is never stuck, at the price of at-least-once
*attempts*. Effects stay exactly-once because a job's use case marks it done in the same
transaction as its event.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from chore_common.errors import Conflict
from chore_tasks.domain.model import Status, Task

REMINDER_LEAD = timedelta(hours=1)
ERROR_MAX = 2000


class JobKind(StrEnum):
    EXPIRE_TASK = "expire_task"
    REMIND_ASSIGNEE = "remind_assignee"
    AUTO_CONFIRM = "auto_confirm"
    # Shows a task's hidden reviews once their blind period ends (`domain.reviews`).
    REVEAL_REVIEWS = "reveal_reviews"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: try n waits base * factor**(n-1), at most `cap`."""

    max_attempts: int = 5
    base: timedelta = field(default=timedelta(seconds=5))
    factor: float = 2.0
    cap: timedelta = field(default=timedelta(minutes=15))
    # Longer than any job should take; a lapsed lease means the runner died.
    lease: timedelta = field(default=timedelta(minutes=5))

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base <= timedelta(0) or self.factor < 1:
            raise ValueError("backoff must not shrink")

    def delay(self, attempt: int) -> timedelta:
        """How long to wait after failed attempt number `attempt` (1-based)."""
        return min(self.cap, self.base * self.factor ** (attempt - 1))

    def schedule(self) -> list[timedelta]:
        """The waits between tries, for docs and the admin page."""
        return [self.delay(n) for n in range(1, self.max_attempts)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    id: UUID
    kind: JobKind
    task_id: UUID
    run_at: datetime
    status: JobStatus
    attempts: int
    max_attempts: int
    last_error: str | None
    locked_until: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


def new_job(
    *,
    job_id: UUID,
    kind: JobKind,
    task_id: UUID,
    run_at: datetime,
    now: datetime,
    policy: RetryPolicy,
) -> Job:
    return Job(
        id=job_id,
        kind=kind,
        task_id=task_id,
        run_at=run_at,
        status=JobStatus.QUEUED,
        attempts=0,
        max_attempts=policy.max_attempts,
        last_error=None,
        locked_until=None,
        version=1,
        created_at=now,
        updated_at=now,
    )


def expiry_job(task: Task, *, job_id: UUID, now: datetime, policy: RetryPolicy) -> Job | None:
    """An open task with a due time expires at that time."""
    if task.due_at is None or task.status is not Status.OPEN:
        return None
    return new_job(
        job_id=job_id,
        kind=JobKind.EXPIRE_TASK,
        task_id=task.id,
        run_at=task.due_at,
        now=now,
        policy=policy,
    )


def reminder_job(task: Task, *, job_id: UUID, now: datetime, policy: RetryPolicy) -> Job | None:
    """Remind the assignee an hour before the due time, or at once if that hour has begun."""
    if task.due_at is None or task.assignee_id is None or task.due_at <= now:
        return None
    return new_job(
        job_id=job_id,
        kind=JobKind.REMIND_ASSIGNEE,
        task_id=task.id,
        run_at=max(now, task.due_at - REMINDER_LEAD),
        now=now,
        policy=policy,
    )


def auto_confirm_job(
    task: Task, *, job_id: UUID, now: datetime, policy: RetryPolicy, after: timedelta
) -> Job:
    """A task marked done completes by itself `after` from now (TASKS_AUTO_CONFIRM_H)."""
    return new_job(
        job_id=job_id,
        kind=JobKind.AUTO_CONFIRM,
        task_id=task.id,
        run_at=now + after,
        now=now,
        policy=policy,
    )


def reveal_job(
    task_id: UUID, *, run_at: datetime, job_id: UUID, now: datetime, policy: RetryPolicy
) -> Job:
    """Reveal a task's reviews at the end of their blind period, unless both come first."""
    return new_job(
        job_id=job_id,
        kind=JobKind.REVEAL_REVIEWS,
        task_id=task_id,
        run_at=run_at,
        now=now,
        policy=policy,
    )


def is_claimable(job: Job, now: datetime) -> bool:
    if job.status is JobStatus.QUEUED:
        return job.run_at <= now
    if job.status is JobStatus.RUNNING:
        return job.locked_until is not None and job.locked_until <= now
    return False


def claim(job: Job, *, now: datetime, policy: RetryPolicy) -> Job:
    if not is_claimable(job, now):
        raise Conflict(f"job {job.id} is {job.status.value} and not due", code="job_not_due")
    return _bump(
        job,
        now,
        status=JobStatus.RUNNING,
        attempts=job.attempts + 1,
        locked_until=now + policy.lease,
    )


def succeed(job: Job, *, now: datetime) -> Job:
    _ensure_running(job)
    return _bump(job, now, status=JobStatus.DONE, locked_until=None)


def fail(job: Job, error: str, *, now: datetime, policy: RetryPolicy) -> Job:
    """Record a failed try: back off and queue again, or give up after the last try."""
    _ensure_running(job)
    last_error = error[:ERROR_MAX] or "unknown error"
    if job.attempts >= job.max_attempts:
        return _bump(job, now, status=JobStatus.FAILED, locked_until=None, last_error=last_error)
    return _bump(
        job,
        now,
        status=JobStatus.QUEUED,
        locked_until=None,
        last_error=last_error,
        run_at=now + policy.delay(job.attempts),
    )


def postpone(job: Job, *, until: datetime, now: datetime) -> Job:
    """Put a job that ran too early back to sleep; the early run costs it no try."""
    _ensure_running(job)
    return _bump(
        job,
        now,
        status=JobStatus.QUEUED,
        locked_until=None,
        run_at=until,
        attempts=max(0, job.attempts - 1),
    )


def retry(job: Job, *, now: datetime) -> Job:
    """Admin: queue a failed or finished job again, with a fresh set of tries, due now."""
    _ensure_not_running(job)
    return _bump(job, now, status=JobStatus.QUEUED, run_at=now, attempts=0, locked_until=None)


def run_now(job: Job, *, now: datetime) -> Job:
    """Admin: make a job due now; a queued job keeps the tries it has used."""
    _ensure_not_running(job)
    if job.status is JobStatus.QUEUED:
        return _bump(job, now, run_at=now)
    return retry(job, now=now)


def ensure_deletable(job: Job) -> None:
    _ensure_not_running(job)


def _ensure_running(job: Job) -> None:
    if job.status is not JobStatus.RUNNING:
        raise Conflict(f"job {job.id} is {job.status.value}, not running", code="job_not_running")


def _ensure_not_running(job: Job) -> None:
    # A runner holds it; changing it under the runner would run it twice.
    if job.status is JobStatus.RUNNING:
        raise Conflict(f"job {job.id} is running", code="job_running")


def _bump(job: Job, now: datetime, **changes: object) -> Job:
    return replace(job, version=job.version + 1, updated_at=now, **changes)  # type: ignore[arg-type]
