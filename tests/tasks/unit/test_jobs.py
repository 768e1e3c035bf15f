"""Scheduling rules: when jobs are due, how failures back off, when they give up."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from chore_common.errors import Conflict
from chore_tasks.domain import jobs
from chore_tasks.domain.jobs import Job, JobKind, JobStatus, RetryPolicy
from chore_tasks.domain.model import Status

from .factories import NOW, make_task, tasker

POLICY = RetryPolicy(max_attempts=4, base=timedelta(seconds=2), factor=3, cap=timedelta(seconds=30))


def queued(run_at: timedelta = timedelta(0)) -> Job:
    return jobs.new_job(
        job_id=uuid4(),
        kind=JobKind.EXPIRE_TASK,
        task_id=uuid4(),
        run_at=NOW + run_at,
        now=NOW - timedelta(hours=1),
        policy=POLICY,
    )


def test_an_open_task_with_a_due_time_expires_at_that_time() -> None:
    task = make_task(due_at=NOW + timedelta(days=1))
    job = jobs.expiry_job(task, job_id=uuid4(), now=NOW, policy=POLICY)
    assert job is not None
    assert (job.kind, job.task_id, job.run_at) == (JobKind.EXPIRE_TASK, task.id, task.due_at)
    assert (job.status, job.attempts, job.max_attempts) == (JobStatus.QUEUED, 0, 4)


def test_a_task_without_a_due_time_never_expires() -> None:
    assert jobs.expiry_job(make_task(), job_id=uuid4(), now=NOW, policy=POLICY) is None


def test_the_assignee_is_reminded_an_hour_before_the_due_time() -> None:
    task = make_task(status=Status.ASSIGNED, due_at=NOW + timedelta(hours=5))
    job = jobs.reminder_job(task, job_id=uuid4(), now=NOW, policy=POLICY)
    assert job is not None
    assert job.kind is JobKind.REMIND_ASSIGNEE
    assert job.run_at == NOW + timedelta(hours=4)


def test_an_assignment_inside_the_last_hour_is_reminded_at_once() -> None:
    task = make_task(status=Status.ASSIGNED, due_at=NOW + timedelta(minutes=20))
    job = jobs.reminder_job(task, job_id=uuid4(), now=NOW, policy=POLICY)
    assert job is not None
    assert job.run_at == NOW


def test_no_reminder_without_a_due_time_an_assignee_or_a_future() -> None:
    assert (
        jobs.reminder_job(make_task(assignee=tasker()), job_id=uuid4(), now=NOW, policy=POLICY)
        is None
    )
    assert (
        jobs.reminder_job(
            make_task(due_at=NOW + timedelta(hours=3)), job_id=uuid4(), now=NOW, policy=POLICY
        )
        is None
    )
    past = make_task(status=Status.ASSIGNED, due_at=NOW)
    assert jobs.reminder_job(past, job_id=uuid4(), now=NOW, policy=POLICY) is None


def test_backoff_grows_by_the_factor_up_to_the_cap() -> None:
    assert POLICY.schedule() == [timedelta(seconds=2), timedelta(seconds=6), timedelta(seconds=18)]
    assert POLICY.delay(10) == timedelta(seconds=30)


def test_a_queued_job_is_claimable_only_once_due() -> None:
    job = queued(run_at=timedelta(seconds=1))
    assert not jobs.is_claimable(job, NOW)
    with pytest.raises(Conflict):
        jobs.claim(job, now=NOW, policy=POLICY)
    assert jobs.is_claimable(job, NOW + timedelta(seconds=1))


def test_claiming_runs_the_job_under_a_lease_and_counts_the_try() -> None:
    running = jobs.claim(queued(), now=NOW, policy=POLICY)
    assert (running.status, running.attempts) == (JobStatus.RUNNING, 1)
    assert running.locked_until == NOW + POLICY.lease
    assert running.version == 2
    # Held: another runner cannot take it until the lease lapses (its runner died).
    assert not jobs.is_claimable(running, NOW + POLICY.lease - timedelta(seconds=1))
    assert jobs.is_claimable(running, NOW + POLICY.lease)


def test_a_failed_try_is_queued_again_after_the_backoff_and_keeps_its_error() -> None:
    running = jobs.claim(queued(), now=NOW, policy=POLICY)
    again = jobs.fail(running, "boom", now=NOW, policy=POLICY)
    assert again.status is JobStatus.QUEUED
    assert again.run_at == NOW + timedelta(seconds=2)
    assert again.last_error == "boom"
    assert again.locked_until is None


def test_a_job_ends_failed_after_its_last_try_with_the_backoff_between_tries() -> None:
    job, now, waits = queued(), NOW, []
    for _ in range(POLICY.max_attempts):
        job = jobs.fail(
            jobs.claim(job, now=now, policy=POLICY),
            f"try {job.attempts + 1}",
            now=now,
            policy=POLICY,
        )
        if job.status is JobStatus.QUEUED:
            waits.append(job.run_at - now)
            now = job.run_at
    assert job.status is JobStatus.FAILED
    assert job.attempts == POLICY.max_attempts
    assert job.last_error == "try 4"
    assert waits == POLICY.schedule()
    assert not jobs.is_claimable(job, now + timedelta(days=1))


def test_a_very_long_error_is_truncated() -> None:
    running = jobs.claim(queued(), now=NOW, policy=POLICY)
    failed = jobs.fail(running, "x" * 10_000, now=NOW, policy=POLICY)
    assert failed.last_error is not None
    assert len(failed.last_error) == jobs.ERROR_MAX


def test_success_finishes_a_running_job_only() -> None:
    done = jobs.succeed(jobs.claim(queued(), now=NOW, policy=POLICY), now=NOW)
    assert done.status is JobStatus.DONE
    with pytest.raises(Conflict):
        jobs.succeed(done, now=NOW)


def test_postponing_an_early_run_costs_no_try() -> None:
    running = jobs.claim(queued(), now=NOW, policy=POLICY)
    later = jobs.postpone(running, until=NOW + timedelta(hours=2), now=NOW)
    assert (later.status, later.attempts, later.run_at) == (
        JobStatus.QUEUED,
        0,
        NOW + timedelta(hours=2),
    )


def test_retrying_a_failed_job_gives_it_fresh_tries_due_now() -> None:
    job = queued()
    for _ in range(POLICY.max_attempts):
        job = jobs.fail(
            jobs.claim(job, now=job.run_at, policy=POLICY), "e", now=job.run_at, policy=POLICY
        )
    retried = jobs.retry(job, now=NOW + timedelta(hours=1))
    assert (retried.status, retried.attempts) == (JobStatus.QUEUED, 0)
    assert retried.run_at == NOW + timedelta(hours=1)
    assert retried.last_error == "e"


def test_run_now_makes_a_queued_job_due_and_keeps_its_tries() -> None:
    job = jobs.fail(jobs.claim(queued(), now=NOW, policy=POLICY), "e", now=NOW, policy=POLICY)
    due = jobs.run_now(job, now=NOW)
    assert (due.run_at, due.attempts) == (NOW, 1)


def test_a_running_job_cannot_be_retried_run_or_deleted() -> None:
    running = jobs.claim(queued(), now=NOW, policy=POLICY)
    for admin_action in (
        lambda: jobs.retry(running, now=NOW),
        lambda: jobs.run_now(running, now=NOW),
        lambda: jobs.ensure_deletable(running),
    ):
        with pytest.raises(Conflict) as caught:
            admin_action()
        assert caught.value.code == "job_running"


def test_a_retry_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="backoff"):
        RetryPolicy(factor=0.5)
