"""Who may do what (S1): strangers are refused, and kept ignorant of private tasks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

import pytest

from chore_common.errors import Conflict, Forbidden
from chore_tasks.domain import lifecycle, offers, policies, reviews
from chore_tasks.domain.errors import InvalidTransition, TaskNotFound
from chore_tasks.domain.model import SCHEDULER, Action, Actor, Role, Status
from chore_tasks.domain.people import PersonStatus

from .factories import NOW, admin, client, make_offer, make_task, tasker


def test_client_b_cannot_cancel_client_a_task() -> None:
    task = make_task(owner=client())
    with pytest.raises(Forbidden) as caught:
        lifecycle.cancel(task, by=client(), now=NOW)
    assert caught.value.code == "not_owner"


def test_client_b_cannot_assign_client_a_task() -> None:
    task = make_task(owner=client())
    with pytest.raises(Forbidden):
        lifecycle.assign(task, make_offer(task), by=client(), now=NOW)


def test_client_b_cannot_review_client_a_task() -> None:
    task = make_task(owner=client(), status=Status.COMPLETED)
    with pytest.raises(Forbidden):
        reviews.write_review(
            task,
            review_id=uuid4(),
            by=client(),
            rating=5,
            comment="",
            written=[],
            now=NOW,
        )


def test_the_tasker_who_was_not_assigned_cannot_start_or_complete() -> None:
    task = make_task(status=Status.ASSIGNED)
    with pytest.raises(Forbidden):
        lifecycle.start(task, by=tasker(), now=NOW)
    with pytest.raises(Forbidden):
        lifecycle.complete(
            make_task(status=Status.IN_PROGRESS),
            by=tasker(),
            now=NOW,
            confirm_after=timedelta(hours=1),
        )


def test_the_owner_cannot_start_their_own_assigned_task() -> None:
    owner = client()
    with pytest.raises(Forbidden):
        lifecycle.start(make_task(owner=owner, status=Status.ASSIGNED), by=owner, now=NOW)


def test_starting_a_task_nobody_was_assigned_to_is_an_invalid_transition() -> None:
    with pytest.raises(InvalidTransition):
        lifecycle.start(make_task(), by=tasker(), now=NOW)


@pytest.mark.parametrize("who", [client, tasker, admin])
def test_only_the_scheduler_expires_tasks(who: Callable[[], Actor]) -> None:
    with pytest.raises(Forbidden):
        lifecycle.expire(make_task(), by=who(), now=NOW)


def test_a_token_cannot_claim_the_scheduler_role_or_an_unknown_one() -> None:
    assert Role.from_token("tasker") is Role.TASKER
    for claimed in ("system", "root", ""):
        with pytest.raises(Forbidden):
            Role.from_token(claimed)


def test_an_open_task_is_visible_to_any_signed_in_user() -> None:
    task = make_task()
    for who in (client(), tasker(), admin()):
        assert policies.can_view(task, who)


@pytest.mark.parametrize(
    "status",
    [s for s in Status if s is not Status.OPEN],
)
def test_a_task_past_open_is_hidden_from_strangers(status: Status) -> None:
    task = make_task(status=status)
    with pytest.raises(TaskNotFound):
        policies.ensure_visible(task, client())
    with pytest.raises(TaskNotFound):
        policies.ensure_visible(task, tasker())


def test_a_private_task_stays_visible_to_owner_assignee_offerers_and_admins() -> None:
    owner, worker = client(), tasker()
    task = make_task(owner=owner, assignee=worker, status=Status.IN_PROGRESS)
    for who in (owner, worker, admin(), SCHEDULER):
        policies.ensure_visible(task, who)
    policies.ensure_visible(task, tasker(), has_offered=True)


def test_only_a_tasker_who_cannot_see_a_task_needs_an_offer_lookup() -> None:
    private = make_task(status=Status.CANCELLED)
    assert policies.needs_offer_lookup(private, tasker())
    assert not policies.needs_offer_lookup(private, client())
    assert not policies.needs_offer_lookup(make_task(), tasker())


@pytest.mark.parametrize(
    "hidden", [PersonStatus.SUSPENDED, PersonStatus.BANNED, PersonStatus.DELETED]
)
def test_an_open_task_of_a_hidden_owner_exists_only_for_its_owner_and_admins(
    hidden: PersonStatus,
) -> None:
    owner = client()
    task = make_task(owner=owner)
    for who in (client(), tasker()):
        assert policies.needs_owner_status(task, who)
        with pytest.raises(TaskNotFound):
            policies.ensure_visible(task, who, owner_status=hidden)
    # As in browse: an offer made before the ban does not show it either.
    with pytest.raises(TaskNotFound):
        policies.ensure_visible(task, tasker(), has_offered=True, owner_status=hidden)
    for who in (owner, admin(), SCHEDULER):
        assert not policies.needs_owner_status(task, who)
        policies.ensure_visible(task, who, owner_status=hidden)
    policies.ensure_visible(task, tasker(), owner_status=PersonStatus.ACTIVE)


def test_the_owners_status_matters_only_while_the_task_is_open() -> None:
    worker = tasker()
    task = make_task(status=Status.ASSIGNED, assignee=worker)
    assert not policies.needs_owner_status(task, worker)
    policies.ensure_visible(task, worker, owner_status=PersonStatus.BANNED)


def test_only_clients_post_tasks() -> None:
    policies.ensure_can_create_task(client())
    for who in (tasker(), admin()):
        with pytest.raises(Forbidden):
            policies.ensure_can_create_task(who)


def _offer(
    task_owner: Actor, by: Actor, *, status: Status = Status.OPEN, has: bool = False
) -> None:
    offers.make_offer(
        make_task(owner=task_owner, status=status),
        offer_id=uuid4(),
        by=by,
        price_cents=1000,
        message="",
        has_open_offer=has,
        now=NOW,
    )


def test_tasker_cannot_offer_on_own_task() -> None:
    me = tasker()
    with pytest.raises(Forbidden) as caught:
        _offer(me, me)
    assert caught.value.code == "own_task"


def test_clients_and_admins_cannot_make_offers() -> None:
    for who in (client(), admin()):
        with pytest.raises(Forbidden):
            _offer(client(), who)


def test_a_tasker_has_at_most_one_open_offer_per_task() -> None:
    with pytest.raises(Conflict) as caught:
        _offer(client(), tasker(), has=True)
    assert caught.value.code == "offer_exists"


def test_offers_are_only_made_on_open_tasks() -> None:
    with pytest.raises(Conflict) as caught:
        _offer(client(), tasker(), status=Status.ASSIGNED)
    assert caught.value.code == "task_not_open"


def test_the_owner_and_admins_see_all_offers_a_tasker_only_their_own() -> None:
    owner, worker = client(), tasker()
    task = make_task(owner=owner)
    assert policies.offer_scope(task, owner) is None
    assert policies.offer_scope(task, admin()) is None
    assert policies.offer_scope(task, worker) == worker.user_id


def test_another_client_may_not_list_offers() -> None:
    with pytest.raises(Forbidden):
        policies.offer_scope(make_task(), client())


def _review(task_status: Status, *, already: bool = False) -> None:
    owner = client()
    task = make_task(owner=owner, status=task_status)
    written = []
    if already:
        first, _ = reviews.write_review(
            task, review_id=uuid4(), by=owner, rating=5, comment="", written=[], now=NOW
        )
        written.append(first)
    reviews.write_review(
        task,
        review_id=uuid4(),
        by=owner,
        rating=4,
        comment="Tidy work",
        written=written,
        now=NOW,
    )


def test_the_owner_reviews_once_and_only_after_completion() -> None:
    _review(Status.COMPLETED)
    with pytest.raises(Conflict) as caught:
        _review(Status.COMPLETED, already=True)
    assert caught.value.code == "already_reviewed"
    for status in (Status.OPEN, Status.ASSIGNED, Status.IN_PROGRESS, Status.CANCELLED):
        with pytest.raises(Conflict):
            _review(status)


def test_a_review_names_the_assignee_as_its_subject() -> None:
    owner, worker = client(), tasker()
    task = make_task(owner=owner, assignee=worker, status=Status.COMPLETED)
    review, event = reviews.write_review(
        task, review_id=uuid4(), by=owner, rating=5, comment="", written=[], now=NOW
    )
    assert review.subject_id == event.subject_id == worker.user_id


@pytest.mark.parametrize("rating", [0, 6, -1, True])
def test_ratings_run_from_one_to_five(rating: int) -> None:
    owner = client()
    task = make_task(owner=owner, status=Status.COMPLETED)
    with pytest.raises(Exception, match="rating"):
        reviews.write_review(
            task,
            review_id=uuid4(),
            by=owner,
            rating=rating,
            comment="",
            written=[],
            now=NOW,
        )


def test_admin_actions_need_the_admin_role() -> None:
    policies.ensure_admin(admin())
    for who in (client(), tasker()):
        with pytest.raises(Forbidden):
            policies.ensure_admin(who)


def test_every_action_has_a_rule_for_who_may_attempt_it() -> None:
    owner, worker = client(), tasker()
    task = make_task(owner=owner, assignee=worker, status=Status.ASSIGNED)
    allowed = {
        Action.ASSIGN: owner,
        Action.CANCEL: owner,
        Action.START: worker,
        Action.COMPLETE: worker,
        Action.EXPIRE: SCHEDULER,
        Action.WITHDRAW: worker,
        Action.RELEASE: owner,
        Action.REPOST: owner,
        Action.EDIT: owner,
        Action.CONFIRM: owner,
        Action.AUTO_CONFIRM: SCHEDULER,
        Action.DISPUTE: owner,
        Action.RESOLVE_COMPLETED: admin(),
        Action.RESOLVE_CANCELLED: admin(),
    }
    for action in Action:
        policies.ensure_can_act(task, allowed[action], action)
