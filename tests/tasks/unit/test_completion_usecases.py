"""Confirm, dispute, resolve and auto-confirm as use cases over the in-memory unit of work:
what each move writes, and the auto-confirm job each one schedules or makes moot."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chore_common.errors import Conflict, Forbidden
from chore_tasks import usecases
from chore_tasks.domain.errors import InvalidTransition, TaskNotFound
from chore_tasks.domain.events import TaskCompleted, TaskDisputed, TaskDisputeResolved, TaskDone
from chore_tasks.domain.jobs import JobKind, JobStatus, RetryPolicy
from chore_tasks.domain.model import Actor, Status, Task
from chore_tasks.usecases.commands import (
    CompleteTask,
    ConfirmTask,
    DisputeTask,
    ListDisputes,
    ResolveDispute,
)

from .factories import NOW, admin, client, make_task, tasker
from .fakes import FakeDatabase, put, stored

AFTER = timedelta(hours=72)
POLICY = RetryPolicy()


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


async def marked_done(db: FakeDatabase) -> tuple[Actor, Actor, Task]:
    owner, worker = client(), tasker()
    task = make_task(owner=owner, assignee=worker, status=Status.IN_PROGRESS, version=3)
    put(db, task)
    done = await usecases.complete_task(
        db.uow(), CompleteTask(task_id=task.id, actor=worker), NOW, confirm_after=AFTER
    )
    return owner, worker, done


async def test_the_owner_confirms_a_done_task_and_its_auto_confirm_goes(db: FakeDatabase) -> None:
    owner, _worker, task = await marked_done(db)
    assert [j.kind for j in db.jobs.values()] == [JobKind.AUTO_CONFIRM]
    confirmed = await usecases.confirm_task(
        db.uow(), ConfirmTask(task_id=task.id, actor=owner, if_match=task.version), NOW
    )
    assert (confirmed.status, confirmed.version) == (Status.COMPLETED, task.version + 1)
    assert db.jobs == {}
    assert [type(e) for e in db.events] == [TaskDone, TaskCompleted]
    assert db.events_of(TaskCompleted)[0].confirmed_by == "owner"


async def test_only_the_owner_confirms_and_only_a_done_task(db: FakeDatabase) -> None:
    owner, worker, task = await marked_done(db)
    with pytest.raises(Forbidden):
        await usecases.confirm_task(db.uow(), ConfirmTask(task_id=task.id, actor=worker), NOW)
    with pytest.raises(TaskNotFound):  # a stranger may not even see it
        await usecases.confirm_task(db.uow(), ConfirmTask(task_id=task.id, actor=client()), NOW)
    other = make_task(owner=owner, status=Status.IN_PROGRESS)
    put(db, other)
    with pytest.raises(InvalidTransition):
        await usecases.confirm_task(db.uow(), ConfirmTask(task_id=other.id, actor=owner), NOW)
    assert stored(db, task).status is Status.DONE


async def test_a_dispute_cancels_the_auto_confirm_and_opens_a_dispute(db: FakeDatabase) -> None:
    owner, worker, task = await marked_done(db)
    cmd = DisputeTask(task_id=task.id, actor=owner, reason="Half the lawn")
    disputed = await usecases.dispute_task(db.uow(), cmd, NOW + timedelta(hours=1))
    assert disputed.status is Status.DISPUTED
    assert db.jobs == {}
    [opened] = db.disputes.values()
    assert (opened.reason, opened.assignee_id, opened.resolved_at) == (
        "Half the lawn",
        worker.user_id,
        None,
    )
    assert db.events_of(TaskDisputed)[0].reason == "Half the lawn"


async def test_a_dispute_after_the_auto_confirm_was_due_is_refused(db: FakeDatabase) -> None:
    owner, _worker, task = await marked_done(db)
    cmd = DisputeTask(task_id=task.id, actor=owner, reason="Too late")
    with pytest.raises(Conflict) as caught:
        await usecases.dispute_task(db.uow(), cmd, NOW + AFTER)
    assert caught.value.code == "auto_confirm_due"
    assert stored(db, task).status is Status.DONE
    assert [j.status for j in db.jobs.values()] == [JobStatus.QUEUED]


async def test_an_admin_resolves_a_dispute_once(db: FakeDatabase) -> None:
    owner, _worker, task = await marked_done(db)
    cmd = DisputeTask(task_id=task.id, actor=owner, reason="Half the lawn")
    await usecases.dispute_task(db.uow(), cmd, NOW)
    who = admin()
    listed = await usecases.list_disputes(db.uow(), ListDisputes(actor=who), NOW)
    assert [d.task_id for d in listed.items] == [task.id]
    resolve = ResolveDispute(task_id=task.id, actor=who, outcome=Status.CANCELLED, note="No")
    with pytest.raises(Forbidden):
        await usecases.resolve_dispute(
            db.uow(), ResolveDispute(**{**vars_of(resolve), "actor": owner}), NOW
        )
    ended = await usecases.resolve_dispute(db.uow(), resolve, NOW)
    assert (ended.status, ended.cancel_reason) == (Status.CANCELLED, "No")
    with pytest.raises(InvalidTransition):
        await usecases.resolve_dispute(db.uow(), resolve, NOW)
    [resolved] = db.disputes.values()
    assert (resolved.outcome, resolved.note, resolved.resolved_by) == (
        Status.CANCELLED,
        "No",
        who.user_id,
    )
    assert db.events_of(TaskDisputeResolved)[0].outcome == "cancelled"
    assert (await usecases.list_disputes(db.uow(), ListDisputes(actor=who), NOW)).items == []
    done = ListDisputes(actor=who, resolved=True)
    assert [d.task_id for d in (await usecases.list_disputes(db.uow(), done, NOW)).items] == [
        task.id
    ]


async def test_the_scheduler_confirms_a_task_left_done_and_only_that(db: FakeDatabase) -> None:
    owner, _worker, task = await marked_done(db)
    _o, _w, confirmed = await marked_done(db)
    await usecases.confirm_task(db.uow(), ConfirmTask(task_id=confirmed.id, actor=_o), NOW)
    assert db.claim_due(NOW + AFTER - timedelta(seconds=1), POLICY) == []
    [job] = db.claim_due(NOW + AFTER, POLICY)
    event = await usecases.run_claimed_job(db.uow(), job, NOW + AFTER)
    assert isinstance(event, TaskCompleted)
    assert (event.task_id, event.confirmed_by) == (task.id, "auto")
    assert stored(db, task).status is Status.COMPLETED
    assert [j.status for j in db.jobs.values()] == [JobStatus.DONE]
    assert owner.user_id == event.owner_id


def vars_of(cmd: ResolveDispute) -> dict[str, object]:
    return {name: getattr(cmd, name) for name in cmd.__dataclass_fields__}


async def test_a_dispute_while_the_auto_confirm_runs_is_refused(db: FakeDatabase) -> None:
    owner, _worker, task = await marked_done(db)
    [job] = db.claim_due(NOW + AFTER, POLICY)  # a replica holds it right now
    cmd = DisputeTask(task_id=task.id, actor=owner, reason="Too late")
    with pytest.raises(Conflict) as caught:
        await usecases.dispute_task(db.uow(), cmd, NOW + AFTER)
    assert caught.value.code == "auto_confirm_due"
    assert db.jobs[job.id].status is JobStatus.RUNNING  # left to its runner
