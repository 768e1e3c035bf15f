"""The lifecycle table, pair by pair: every (status, action) either moves or is refused."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

import pytest

from chore_common.errors import Conflict, Forbidden, InvalidInput
from chore_tasks.domain import edits, lifecycle
from chore_tasks.domain.errors import InvalidTransition, OfferNotFound
from chore_tasks.domain.events import (
    DomainEvent,
    TaskAssigned,
    TaskCancelled,
    TaskCompleted,
    TaskCreated,
    TaskDisputed,
    TaskDisputeResolved,
    TaskDone,
    TaskEdited,
    TaskExpired,
    TaskReopened,
    TaskReposted,
    TaskStarted,
)
from chore_tasks.domain.model import (
    SCHEDULER,
    Action,
    Actor,
    Location,
    OfferStatus,
    Role,
    Status,
    Task,
)

from .factories import NOW, admin, client, make_dispute, make_offer, make_task, tasker

CONFIRM_AFTER = timedelta(hours=72)

# Written out again rather than imported, so a slip in the table fails here.
LEGAL = {
    (Status.OPEN, Action.ASSIGN): Status.ASSIGNED,
    (Status.ASSIGNED, Action.START): Status.IN_PROGRESS,
    (Status.IN_PROGRESS, Action.COMPLETE): Status.DONE,
    (Status.DONE, Action.CONFIRM): Status.COMPLETED,
    (Status.DONE, Action.AUTO_CONFIRM): Status.COMPLETED,
    (Status.DONE, Action.DISPUTE): Status.DISPUTED,
    (Status.DISPUTED, Action.RESOLVE_COMPLETED): Status.COMPLETED,
    (Status.DISPUTED, Action.RESOLVE_CANCELLED): Status.CANCELLED,
    (Status.OPEN, Action.CANCEL): Status.CANCELLED,
    (Status.ASSIGNED, Action.CANCEL): Status.CANCELLED,
    (Status.OPEN, Action.EXPIRE): Status.EXPIRED,
    (Status.ASSIGNED, Action.WITHDRAW): Status.OPEN,
    (Status.IN_PROGRESS, Action.WITHDRAW): Status.OPEN,
    (Status.ASSIGNED, Action.RELEASE): Status.OPEN,
    (Status.IN_PROGRESS, Action.RELEASE): Status.OPEN,
    (Status.EXPIRED, Action.REPOST): Status.OPEN,
    (Status.OPEN, Action.EDIT): Status.OPEN,
}
ALL_PAIRS = list(itertools.product(Status, Action))
EVENT_OF = {
    Action.ASSIGN: TaskAssigned,
    Action.START: TaskStarted,
    Action.COMPLETE: TaskDone,
    Action.CONFIRM: TaskCompleted,
    Action.AUTO_CONFIRM: TaskCompleted,
    Action.DISPUTE: TaskDisputed,
    Action.RESOLVE_COMPLETED: TaskDisputeResolved,
    Action.RESOLVE_CANCELLED: TaskDisputeResolved,
    Action.CANCEL: TaskCancelled,
    Action.EXPIRE: TaskExpired,
    Action.WITHDRAW: TaskReopened,
    Action.RELEASE: TaskReopened,
    Action.REPOST: TaskReposted,
    Action.EDIT: TaskEdited,
}


def act(task: Task, action: Action) -> tuple[Task, DomainEvent]:
    """Perform `action` as the one actor allowed to, so only the state can refuse it."""
    owner = Actor(task.owner_id, Role.CLIENT)
    assignee = Actor(task.assignee_id or uuid4(), Role.TASKER)
    moves: dict[Action, Callable[[], tuple[Task, DomainEvent]]] = {
        Action.ASSIGN: lambda: _assign(task, owner),
        Action.START: lambda: lifecycle.start(task, by=assignee, now=NOW),
        Action.COMPLETE: lambda: lifecycle.complete(
            task, by=assignee, now=NOW, confirm_after=CONFIRM_AFTER
        ),
        Action.CONFIRM: lambda: lifecycle.confirm(task, by=owner, now=NOW),
        Action.AUTO_CONFIRM: lambda: lifecycle.auto_confirm(task, by=SCHEDULER, now=NOW),
        Action.DISPUTE: lambda: _dispute(task, owner),
        Action.RESOLVE_COMPLETED: lambda: _resolve(task, Status.COMPLETED),
        Action.RESOLVE_CANCELLED: lambda: _resolve(task, Status.CANCELLED),
        Action.CANCEL: lambda: lifecycle.cancel(task, by=owner, now=NOW, reason="rain"),
        Action.EXPIRE: lambda: lifecycle.expire(task, by=SCHEDULER, now=NOW),
        Action.WITHDRAW: lambda: _reopen(task, Action.WITHDRAW, assignee),
        Action.RELEASE: lambda: _reopen(task, Action.RELEASE, owner),
        Action.REPOST: lambda: lifecycle.repost(
            task, by=owner, due_at=NOW + timedelta(days=1), now=NOW
        ),
        Action.EDIT: lambda: _edit(task, owner),
    }
    return moves[action]()


def _reopen(task: Task, action: Action, by: Actor) -> tuple[Task, DomainEvent]:
    moved, _offers, event = lifecycle.reopen(
        task, action, by=by, reason="sick", accepted=None, task_offers=[], now=NOW
    )
    return moved, event


def _dispute(task: Task, owner: Actor) -> tuple[Task, DomainEvent]:
    moved, _dispute, event = lifecycle.dispute(
        task, by=owner, reason="Half done", now=NOW, dispute_id=uuid4(), confirm_at=None
    )
    return moved, event


def _edit(task: Task, owner: Actor) -> tuple[Task, DomainEvent]:
    moved, event, _entry = edits.edit(
        task,
        {"title": "Mow the lawn and the verge"},
        by=owner,
        edit_id=uuid4(),
        offerer_ids=(),
        has_offers=False,
        now=NOW,
    )
    return moved, event


def _resolve(task: Task, outcome: Status) -> tuple[Task, DomainEvent]:
    opened = make_dispute(task) if task.assignee_id else None
    moved, _resolved, events = lifecycle.resolve(
        task, opened, by=admin(), outcome=outcome, note="Photos agree", now=NOW
    )
    return moved, events[0]


def _assign(task: Task, owner: Actor) -> tuple[Task, DomainEvent]:
    moved, _offer, event = lifecycle.assign(task, make_offer(task), by=owner, now=NOW)
    return moved, event


def test_the_table_has_exactly_the_moves_of_the_spec() -> None:
    assert dict(lifecycle.MOVES) == LEGAL


@pytest.mark.parametrize(("status", "action"), ALL_PAIRS, ids=lambda v: str(v))
def test_move_applies_legal_pairs_and_refuses_every_other(status: Status, action: Action) -> None:
    task = make_task(status=status, version=3)
    if (status, action) in LEGAL:
        moved = lifecycle.move(task, action, NOW)
        assert moved.status is LEGAL[status, action]
        assert moved.version == 4
        assert moved.updated_at == NOW
    else:
        with pytest.raises(InvalidTransition) as caught:
            lifecycle.move(task, action, NOW)
        assert caught.value.code == "invalid_transition"
        assert isinstance(caught.value, Conflict)
        assert (caught.value.status, caught.value.action) == (status, action)


@pytest.mark.parametrize(("status", "action"), ALL_PAIRS, ids=lambda v: str(v))
def test_each_move_by_its_rightful_actor_returns_its_event_or_is_refused(
    status: Status, action: Action
) -> None:
    task = make_task(status=status, version=7)
    if (status, action) in LEGAL:
        moved, event = act(task, action)
        assert moved.status is LEGAL[status, action]
        assert moved.version == 8
        assert isinstance(event, EVENT_OF[action])
        assert event.task_id == task.id  # type: ignore[attr-defined]
        assert event.version == 8  # type: ignore[attr-defined]
        assert event.occurred_at == NOW
    else:
        with pytest.raises(InvalidTransition):
            act(task, action)


def test_assigning_sets_the_assignee_and_accepts_the_offer() -> None:
    owner, worker = client(), tasker()
    task = make_task(owner=owner)
    offer = make_offer(task, by=worker)
    moved, accepted, event = lifecycle.assign(task, offer, by=owner, now=NOW)
    assert moved.assignee_id == worker.user_id
    assert moved.offer_id == offer.id
    assert accepted.status is OfferStatus.ACCEPTED
    assert (event.assignee_id, event.offer_id, event.owner_id) == (
        worker.user_id,
        offer.id,
        owner.user_id,
    )


def test_assigning_an_offer_made_on_another_task_is_not_found() -> None:
    owner = client()
    task, other = make_task(owner=owner), make_task(owner=owner)
    with pytest.raises(OfferNotFound):
        lifecycle.assign(task, make_offer(other), by=owner, now=NOW)


def test_cancelling_keeps_the_reason_and_names_the_assignee() -> None:
    owner, worker = client(), tasker()
    task = make_task(owner=owner, status=Status.ASSIGNED, assignee=worker)
    moved, event = lifecycle.cancel(task, by=owner, now=NOW, reason="rain")
    assert moved.cancel_reason == "rain"
    assert event.assignee_id == worker.user_id
    assert event.reason == "rain"


def test_only_the_actor_allowed_is_checked_before_the_state() -> None:
    # A stranger gets 403, not 409: they must not learn the task's state from the error.
    task = make_task(status=Status.COMPLETED)
    with pytest.raises(Forbidden):
        lifecycle.cancel(task, by=client(), now=NOW)


def test_creating_a_task_opens_it_at_version_one_and_records_the_event() -> None:
    owner = client()
    task_id = uuid4()
    task, event = lifecycle.create(
        task_id=task_id,
        by=owner,
        title="Paint the fence",
        description="",
        category="garden",
        budget_cents=12_000,
        currency="GBP",
        due_at=NOW + timedelta(days=2),
        location=Location(lat=53.8, lon=-1.55, address="Leeds"),
        now=NOW,
    )
    assert (task.status, task.version, task.owner_id) == (Status.OPEN, 1, owner.user_id)
    assert isinstance(event, TaskCreated)
    assert (event.task_id, event.budget_cents, event.version) == (task_id, 12_000, 1)
    assert (task.currency, event.currency) == ("GBP", "GBP")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"budget_cents": 0}, "bad_amount"),
        ({"budget_cents": -5}, "bad_amount"),
        ({"title": "   "}, "blank_text"),
        ({"title": "x" * 201}, "text_too_long"),
        ({"due_at": NOW - timedelta(seconds=1)}, "due_in_past"),
        ({"due_at": NOW.replace(tzinfo=None) + timedelta(days=1)}, "naive_datetime"),
        ({"currency": "eur"}, "bad_currency"),
        ({"currency": "XYZ"}, "bad_currency"),
        ({"location": Location(lat=90.5, lon=0.0)}, "bad_location"),
        ({"location": Location(lat=0.0, lon=-180.01)}, "bad_location"),
        ({"location": Location(lat=None, lon=None, address="Leeds")}, "bad_location"),
    ],
)
def test_creating_a_task_refuses_bad_input(changes: dict[str, object], code: str) -> None:
    fields: dict[str, object] = {
        "task_id": uuid4(),
        "by": client(),
        "title": "Paint the fence",
        "description": "",
        "category": "garden",
        "budget_cents": 100,
        "currency": "EUR",
        "due_at": None,
        "location": None,
        "now": NOW,
    }
    with pytest.raises(InvalidInput) as caught:
        lifecycle.create(**{**fields, **changes})  # type: ignore[arg-type]
    assert caught.value.code == code


def test_is_due_only_once_the_due_time_has_come() -> None:
    task = make_task(due_at=NOW)
    assert lifecycle.is_due(task, NOW)
    assert not lifecycle.is_due(task, NOW - timedelta(microseconds=1))
    assert not lifecycle.is_due(make_task(), NOW)


def test_marking_done_names_when_it_will_auto_confirm() -> None:
    worker = tasker()
    task = make_task(status=Status.IN_PROGRESS, assignee=worker)
    moved, event = lifecycle.complete(task, by=worker, now=NOW, confirm_after=CONFIRM_AFTER)
    assert moved.status is Status.DONE
    assert (event.assignee_id, event.auto_confirm_at) == (worker.user_id, NOW + CONFIRM_AFTER)


def test_each_confirmation_says_who_confirmed() -> None:
    owner = client()
    task = make_task(owner=owner, status=Status.DONE)
    assert lifecycle.confirm(task, by=owner, now=NOW)[1].confirmed_by == "owner"
    assert lifecycle.auto_confirm(task, by=SCHEDULER, now=NOW)[1].confirmed_by == "auto"
    with pytest.raises(Forbidden):
        lifecycle.auto_confirm(task, by=owner, now=NOW)  # only the scheduler
    with pytest.raises(Forbidden):
        lifecycle.confirm(task, by=tasker(), now=NOW)  # only the owner


def test_a_dispute_needs_a_reason_and_the_auto_confirm_still_ahead() -> None:
    owner = client()
    task = make_task(owner=owner, status=Status.DONE)
    kwargs = {"by": owner, "now": NOW, "dispute_id": uuid4()}
    with pytest.raises(InvalidInput):
        lifecycle.dispute(task, reason="  ", confirm_at=None, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(Conflict) as caught:
        lifecycle.dispute(task, reason="late", confirm_at=NOW, **kwargs)  # type: ignore[arg-type]
    assert caught.value.code == "auto_confirm_due"
    moved, opened, event = lifecycle.dispute(
        task,
        reason="late",
        confirm_at=NOW + timedelta(seconds=1),
        **kwargs,  # type: ignore[arg-type]
    )
    assert (moved.status, opened.reason, opened.assignee_id) == (
        Status.DISPUTED,
        "late",
        task.assignee_id,
    )
    assert (event.reason, event.assignee_id) == ("late", task.assignee_id)


def test_resolving_is_for_admins_and_records_the_outcome_and_note() -> None:
    task = make_task(status=Status.DISPUTED)
    opened = make_dispute(task)
    with pytest.raises(Forbidden):
        lifecycle.resolve(task, opened, by=client(), outcome=Status.COMPLETED, note="n", now=NOW)
    with pytest.raises(InvalidInput):
        lifecycle.resolve(task, opened, by=admin(), outcome=Status.OPEN, note="n", now=NOW)
    who = admin()
    moved, resolved, events = lifecycle.resolve(
        task, opened, by=who, outcome=Status.CANCELLED, note="No show", now=NOW
    )
    assert (moved.status, moved.cancel_reason) == (Status.CANCELLED, "No show")
    assert (resolved.outcome, resolved.note, resolved.resolved_by) == (
        Status.CANCELLED,
        "No show",
        who.user_id,
    )
    assert [type(e) for e in events] == [TaskDisputeResolved]
    _, _, events = lifecycle.resolve(
        task, opened, by=who, outcome=Status.COMPLETED, note="Fine", now=NOW
    )
    assert [type(e) for e in events] == [TaskDisputeResolved, TaskCompleted]
    assert isinstance(events[1], TaskCompleted)
    assert events[1].confirmed_by == "admin"
