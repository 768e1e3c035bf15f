"""One open offer per tasker per task, whatever the order of offers, withdrawals, assigns
and reopenings (a property test over the use cases on the in-memory unit of work, whose
commit enforces the partial unique index as the database does)."""

from __future__ import annotations

import asyncio
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from chore_common.errors import DomainError
from chore_tasks import usecases
from chore_tasks.domain.model import Action, Actor, OfferStatus, Status
from chore_tasks.usecases.commands import (
    AssignTask,
    MakeOffer,
    ReopenTask,
    StartTask,
    WithdrawOffer,
)

from .factories import NOW, client, make_task, tasker
from .fakes import FakeDatabase, put

STEPS = st.lists(
    st.tuples(
        st.sampled_from(["offer", "withdraw", "assign", "start", "withdraw_task", "release"]),
        st.integers(0, 2),
    ),
    max_size=30,
)


async def _step(db: FakeDatabase, task_id: object, owner: Actor, who: Actor, kind: str) -> None:
    task = db.tasks[task_id]  # type: ignore[index]
    mine = [o for o in db.offers.values() if o.tasker_id == who.user_id]
    open_mine = [o for o in mine if o.status is OfferStatus.OPEN]
    if kind == "offer":
        cmd = MakeOffer(task_id=task.id, actor=who, price_cents=100, message="")
        await usecases.make_offer(db.uow(), cmd, NOW)
    elif kind == "withdraw" and open_mine:
        cmd2 = WithdrawOffer(task_id=task.id, offer_id=open_mine[0].id, actor=who)
        await usecases.withdraw_offer(db.uow(), cmd2, NOW)
    elif kind == "assign" and open_mine:
        cmd3 = AssignTask(task_id=task.id, offer_id=open_mine[0].id, actor=owner)
        await usecases.assign_task(db.uow(), cmd3, NOW)
    elif kind == "start":
        await usecases.start_task(db.uow(), StartTask(task_id=task.id, actor=who), NOW)
    elif kind in ("withdraw_task", "release"):
        action = Action.WITHDRAW if kind == "withdraw_task" else Action.RELEASE
        by = who if action is Action.WITHDRAW else owner
        cmd4 = ReopenTask(task_id=task.id, actor=by, action=action, reason="changed")
        await usecases.reopen_task(db.uow(), cmd4, NOW)


@settings(max_examples=150, deadline=None)
@given(STEPS)
def test_no_sequence_of_moves_leaves_a_tasker_two_open_offers(steps: list[tuple[str, int]]) -> None:
    db = FakeDatabase()
    owner = client()
    taskers = [tasker() for _ in range(3)]
    task = make_task(owner=owner)
    put(db, task)

    broken: list[tuple[str, DomainError]] = []

    async def run() -> None:
        for kind, n in steps:
            try:
                await _step(db, task.id, owner, taskers[n], kind)
            except DomainError as refused:
                # Refusals of the state or the person are fine; a duplicate open offer from
                # anything but a second `offer` would break the invariant.
                if refused.code == "offer_exists" and kind != "offer":
                    broken.append((kind, refused))
            assert broken == []
            open_per_tasker = Counter(
                o.tasker_id for o in db.offers.values() if o.status is OfferStatus.OPEN
            )
            assert max(open_per_tasker.values(), default=0) <= 1
            current = db.tasks[task.id]
            accepted = [o for o in db.offers.values() if o.status is OfferStatus.ACCEPTED]
            if current.status is Status.OPEN:
                assert accepted == []
                assert current.assignee_id is None
                assert all(o.status is not OfferStatus.DECLINED for o in db.offers.values())
            else:
                assert [o.id for o in accepted] == [current.offer_id]

    asyncio.run(run())
