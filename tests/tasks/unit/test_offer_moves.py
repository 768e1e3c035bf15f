"""The offer table pair by pair, and the moves built on it: update, withdraw, decline on
assign, revive on reopen, repost, and the owner's edit."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from chore_common.errors import Conflict, Forbidden, InvalidInput
from chore_tasks.domain import edits, lifecycle, offers, policies
from chore_tasks.domain.errors import InvalidOfferTransition, InvalidTransition, OfferNotFound
from chore_tasks.domain.model import Action, Actor, OfferAction, OfferStatus, Role, Status

from .factories import NOW, client, make_offer, make_task, tasker

# Written out again rather than imported, so a slip in the table fails here.
LEGAL = {
    (OfferStatus.OPEN, OfferAction.UPDATE): OfferStatus.OPEN,
    (OfferStatus.OPEN, OfferAction.WITHDRAW): OfferStatus.WITHDRAWN,
    (OfferStatus.OPEN, OfferAction.ACCEPT): OfferStatus.ACCEPTED,
    (OfferStatus.OPEN, OfferAction.DECLINE): OfferStatus.DECLINED,
    (OfferStatus.DECLINED, OfferAction.REOPEN): OfferStatus.OPEN,
    (OfferStatus.ACCEPTED, OfferAction.STEP_BACK): OfferStatus.WITHDRAWN,
    (OfferStatus.ACCEPTED, OfferAction.RELEASE): OfferStatus.RELEASED,
}


def test_the_offer_table_has_exactly_the_moves_of_the_spec() -> None:
    assert dict(offers.OFFER_MOVES) == LEGAL


@pytest.mark.parametrize(
    ("status", "action"), list(itertools.product(OfferStatus, OfferAction)), ids=str
)
def test_each_offer_pair_moves_or_is_refused_with_409(
    status: OfferStatus, action: OfferAction
) -> None:
    offer = replace(make_offer(make_task()), status=status, version=4)
    if (status, action) in LEGAL:
        moved = offers.move_offer(offer, action, NOW)
        assert (moved.status, moved.version, moved.updated_at) == (LEGAL[status, action], 5, NOW)
    else:
        with pytest.raises(InvalidOfferTransition) as caught:
            offers.move_offer(offer, action, NOW)
        assert caught.value.code == "invalid_transition"
        assert isinstance(caught.value, Conflict)


def test_a_tasker_updates_their_open_offer_and_only_what_they_send_changes() -> None:
    worker = tasker()
    task = make_task()
    offer = make_offer(task, by=worker, price_cents=4000)
    moved, event = offers.update_offer(
        task, offer, by=worker, price_cents=3500, message=None, now=NOW
    )
    assert (moved.price_cents, moved.message, moved.version) == (3500, offer.message, 2)
    assert (event.offer_id, event.price_cents, event.version) == (offer.id, 3500, 2)
    assert event.owner_id == task.owner_id


def test_an_offer_is_its_taskers_alone_to_change() -> None:
    task = make_task()
    offer = make_offer(task)
    with pytest.raises(OfferNotFound):  # another tasker cannot see it
        offers.update_offer(task, offer, by=tasker(), price_cents=1, message=None, now=NOW)
    owner = Actor(task.owner_id, Role.CLIENT)
    with pytest.raises(Forbidden):  # the owner sees it but may not change it
        offers.withdraw_offer(task, offer, by=owner, now=NOW)
    other_task = make_task()
    with pytest.raises(OfferNotFound):
        offers.withdraw_offer(other_task, offer, by=Actor(offer.tasker_id, Role.TASKER), now=NOW)


def test_an_offer_on_a_task_that_is_no_longer_open_cannot_be_updated() -> None:
    task = make_task(status=Status.CANCELLED)
    offer = make_offer(task)
    by = Actor(offer.tasker_id, Role.TASKER)
    with pytest.raises(Conflict) as caught:
        offers.update_offer(task, offer, by=by, price_cents=10, message=None, now=NOW)
    assert caught.value.code == "task_not_open"


def test_assigning_one_offer_declines_every_other_open_one_with_an_event_each() -> None:
    owner = client()
    task = make_task(owner=owner)
    made = [make_offer(task) for _ in range(5)]
    withdrawn = replace(make_offer(task), status=OfferStatus.WITHDRAWN)
    moved, accepted, _ = lifecycle.assign(task, made[0], by=owner, now=NOW)
    declined = offers.decline_others(moved, accepted, [*made, withdrawn], now=NOW)
    assert [o.id for o, _ in declined] == [o.id for o in made[1:]]
    assert all(o.status is OfferStatus.DECLINED for o, _ in declined)
    assert [e.tasker_id for _, e in declined] == [o.tasker_id for o in made[1:]]
    assert {e.owner_id for _, e in declined} == {owner.user_id}


def test_a_withdrawn_offer_cannot_be_accepted() -> None:
    owner = client()
    task = make_task(owner=owner)
    offer = replace(make_offer(task), status=OfferStatus.WITHDRAWN)
    with pytest.raises(InvalidOfferTransition):
        lifecycle.assign(task, offer, by=owner, now=NOW)


@pytest.mark.parametrize(
    ("action", "by_owner", "by", "retired"),
    [
        (Action.WITHDRAW, False, "assignee", OfferStatus.WITHDRAWN),
        (Action.RELEASE, True, "owner", OfferStatus.RELEASED),
    ],
)
def test_reopening_retires_the_accepted_offer_and_revives_the_declined_ones(
    action: Action, by_owner: bool, by: str, retired: OfferStatus
) -> None:
    owner, worker = client(), tasker()
    task = make_task(owner=owner, assignee=worker, status=Status.IN_PROGRESS)
    accepted = replace(make_offer(task, by=worker), status=OfferStatus.ACCEPTED)
    declined = [replace(make_offer(task), status=OfferStatus.DECLINED) for _ in range(2)]
    actor = owner if by_owner else worker
    moved, changed, event = lifecycle.reopen(
        task, action, by=actor, reason="ill", accepted=accepted, task_offers=declined, now=NOW
    )
    assert (moved.status, moved.assignee_id, moved.offer_id) == (Status.OPEN, None, None)
    assert [(o.id, o.status) for o in changed] == [
        (accepted.id, retired),
        *((o.id, OfferStatus.OPEN) for o in declined),
    ]
    assert (event.by, event.reason, event.former_assignee_id) == (by, "ill", worker.user_id)
    assert event.reopened_offer_tasker_ids == tuple(o.tasker_id for o in declined)


def test_reopening_needs_a_reason_and_the_right_person() -> None:
    owner, worker = client(), tasker()
    task = make_task(owner=owner, assignee=worker, status=Status.ASSIGNED)
    with pytest.raises(InvalidInput):
        lifecycle.reopen(
            task, Action.WITHDRAW, by=worker, reason=" ", accepted=None, task_offers=[], now=NOW
        )
    for action, wrong in ((Action.WITHDRAW, owner), (Action.RELEASE, worker)):
        with pytest.raises(Forbidden):
            lifecycle.reopen(
                task, action, by=wrong, reason="x", accepted=None, task_offers=[], now=NOW
            )
    with pytest.raises(InvalidTransition):  # nobody to step back on an open task
        lifecycle.reopen(
            make_task(owner=owner),
            Action.RELEASE,
            by=owner,
            reason="x",
            accepted=None,
            task_offers=[],
            now=NOW,
        )


def test_a_repost_needs_a_future_due_time() -> None:
    owner = client()
    task = make_task(owner=owner, status=Status.EXPIRED)
    with pytest.raises(InvalidInput):
        lifecycle.repost(task, by=owner, due_at=NOW - timedelta(minutes=1), now=NOW)
    moved, event = lifecycle.repost(task, by=owner, due_at=NOW + timedelta(days=1), now=NOW)
    assert (moved.status, moved.due_at, event.due_at) == (
        Status.OPEN,
        NOW + timedelta(days=1),
        NOW + timedelta(days=1),
    )


def test_an_edit_keeps_history_only_with_offers_and_names_each_change() -> None:
    owner = client()
    task = make_task(owner=owner)
    kw = {"by": owner, "edit_id": uuid4(), "offerer_ids": (), "now": NOW}
    _, _, none = edits.edit(task, {"budget_cents": 5000}, has_offers=False, **kw)  # type: ignore[arg-type]
    assert none is None
    moved, event, entry = edits.edit(
        task,
        {"budget_cents": 5000, "title": task.title},  # an unchanged value is no change
        has_offers=True,
        **kw,  # type: ignore[arg-type]
    )
    assert moved.budget_cents == 5000
    assert event.changes == {"budget_cents": 5000}
    assert entry is not None
    assert entry.changes == {"budget_cents": {"from": task.budget_cents, "to": 5000}}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"status": "completed"}, "not_editable"),
        ({"title": None}, "not_nullable"),
        ({"title": "  "}, "blank_text"),
        ({"budget_cents": 0}, "bad_amount"),
        ({"due_at": NOW - timedelta(hours=1)}, "due_in_past"),
        ({}, "no_change"),
    ],
)
def test_a_bad_edit_is_refused_whole(fields: dict[str, object], code: str) -> None:
    owner = client()
    with pytest.raises(InvalidInput) as caught:
        edits.edit(
            make_task(owner=owner),
            fields,
            by=owner,
            edit_id=uuid4(),
            offerer_ids=(),
            has_offers=True,
            now=NOW,
        )
    assert caught.value.code == code


def test_every_editable_field_is_a_task_field() -> None:
    task = make_task()
    assert set(edits.EDITABLE) <= set(task.__dataclass_fields__)


def test_history_is_for_the_owner_offerers_and_admins() -> None:
    owner = client()
    task = make_task(owner=owner)
    policies.ensure_can_see_history(task, owner, has_offered=False)
    policies.ensure_can_see_history(task, tasker(), has_offered=True)
    policies.ensure_can_see_history(task, Actor(uuid4(), Role.ADMIN), has_offered=False)
    for stranger in (client(), tasker()):
        with pytest.raises(Forbidden):
            policies.ensure_can_see_history(task, stranger, has_offered=False)
