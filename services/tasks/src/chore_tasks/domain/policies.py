"""Who may do what to a task. Role gates on routes are coarse; these rules need the aggregate.

Visibility, and why some refusals are 404 rather than 403:
- An `open` task is the marketplace's shop window: every signed-in user may see it, so a
  stranger's command on it is refused with 403 (`Forbidden`); hiding it would be pointless.
- Once a task leaves `open` it is private to its participants: the owner, the assignee,
  taskers who made an offer on it (they need to learn how it ended), and admins. To anyone
  else it does not exist: reads and commands alike get 404 (`TaskNotFound`), so nobody can
  probe ids to learn who hired whom.
- An `open` task whose owner is suspended, banned or deleted (domain/people.py) is off the
  market: browse leaves it out, and to anyone but its owner and admins it does not exist
  either (404), so nobody can read it or offer on it by id.
- An offer id that does not belong to the task in the URL is `OfferNotFound`, never 403.
Checks run in this order: visible (404), allowed (403), then state (409), so a stranger
never learns a task's state or version.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from chore_common.errors import Conflict, Forbidden
from chore_tasks.domain.errors import InvalidTransition, OfferNotFound, TaskNotFound
from chore_tasks.domain.model import Action, Actor, Offer, Role, Status, Task
from chore_tasks.domain.people import HIDDEN, PersonStatus

# Moves only the task's owner makes; the assignee's are the rest but the scheduler's
# (EXPIRE, AUTO_CONFIRM) and the admin's (RESOLVE_*).
OWNER_ACTIONS = frozenset(
    {
        Action.ASSIGN,
        Action.CANCEL,
        Action.RELEASE,
        Action.REPOST,
        Action.EDIT,
        Action.CONFIRM,
        Action.DISPUTE,
    }
)


def can_view(
    task: Task,
    actor: Actor,
    *,
    has_offered: bool = False,
    owner_status: PersonStatus = PersonStatus.ACTIVE,
) -> bool:
    if actor.role in (Role.ADMIN, Role.SYSTEM) or actor.user_id == task.owner_id:
        return True
    if task.status is Status.OPEN:
        return owner_status not in HIDDEN  # as browse: hidden from offerers too
    return task.is_participant(actor) or has_offered


def needs_owner_status(task: Task, actor: Actor) -> bool:
    """Whether visibility hangs on the owner's account status (so the caller must look it
    up): an open task, seen by anyone but its owner and admins."""
    return (
        task.status is Status.OPEN
        and actor.user_id != task.owner_id
        and actor.role not in (Role.ADMIN, Role.SYSTEM)
    )


def needs_offer_lookup(task: Task, actor: Actor) -> bool:
    """Whether visibility hangs on the actor having offered (so the caller must look it up)."""
    return actor.role is Role.TASKER and not can_view(task, actor)


def ensure_visible(
    task: Task,
    actor: Actor,
    *,
    has_offered: bool = False,
    owner_status: PersonStatus = PersonStatus.ACTIVE,
) -> None:
    if not can_view(task, actor, has_offered=has_offered, owner_status=owner_status):
        raise TaskNotFound(f"no task {task.id}")


def ensure_can_create_task(actor: Actor) -> None:
    if actor.role is not Role.CLIENT:
        raise Forbidden("only clients post tasks", code="role_forbidden")


def ensure_can_offer(task: Task, actor: Actor, *, has_open_offer: bool) -> None:
    if actor.role is not Role.TASKER:
        raise Forbidden("only taskers make offers", code="role_forbidden")
    if actor.user_id == task.owner_id:
        raise Forbidden("you cannot offer on your own task", code="own_task")
    if task.status is not Status.OPEN:
        raise Conflict(f"the task is {task.status.value}", code="task_not_open")
    if has_open_offer:
        raise Conflict("you already have an open offer on this task", code="offer_exists")


def offer_scope(task: Task, actor: Actor) -> UUID | None:
    """Whose offers the actor may list: None means all of them, else only this tasker's."""
    if actor.user_id == task.owner_id or actor.is_admin:
        return None
    if actor.role is Role.TASKER:
        return actor.user_id
    raise Forbidden("only the owner and taskers may list offers", code="not_participant")


def ensure_can_act(task: Task, actor: Actor, action: Action) -> None:
    """May this actor attempt this lifecycle action? Whether the state allows it is separate."""
    if action in (Action.EXPIRE, Action.AUTO_CONFIRM):
        if actor.role is not Role.SYSTEM:
            raise Forbidden("only the scheduler does this", code="role_forbidden")
    elif action in (Action.RESOLVE_COMPLETED, Action.RESOLVE_CANCELLED):
        ensure_admin(actor)
    elif action in OWNER_ACTIONS:
        _ensure_owner(task, actor)
    elif task.assignee_id is None:
        # START, COMPLETE and WITHDRAW with nobody assigned: no actor could ever do it, so the
        # state is what refuses (409), and the state is no secret to whoever can see the task.
        raise InvalidTransition(task.status, action)
    elif actor.user_id != task.assignee_id:
        raise Forbidden("only the assignee may do this", code="not_assignee")


def ensure_offer_owner(offer: Offer, actor: Actor) -> None:
    """Only the tasker who made an offer changes it. The owner and admins see every offer
    (403); another tasker sees only their own, so to them it does not exist (404). The
    system acts for a tasker whose account was banned, suspended or deleted."""
    if actor.user_id == offer.tasker_id or actor.role is Role.SYSTEM:
        return
    if actor.role is Role.TASKER:
        raise OfferNotFound(f"no offer {offer.id} on task {offer.task_id}")
    raise Forbidden("only the tasker who made the offer may change it", code="not_offerer")


def ensure_can_see_history(task: Task, actor: Actor, *, has_offered: bool) -> None:
    """A task's edit history: its owner, taskers who offered on it, and admins."""
    if actor.user_id == task.owner_id or actor.is_admin or has_offered:
        return
    raise Forbidden(
        "only the owner and taskers who offered see the history", code="not_participant"
    )


def ensure_before_auto_confirm(confirm_at: datetime | None, now: datetime) -> None:
    """A `done` task may be disputed only while its auto-confirm is still ahead: once that
    is due the work counts as accepted (the job may simply not have run yet)."""
    if confirm_at is not None and confirm_at <= now:
        raise Conflict(
            "the task has been auto-confirmed: the time to dispute it is over",
            code="auto_confirm_due",
        )


def ensure_can_review(task: Task, actor: Actor, *, already_reviewed: bool) -> None:
    """The owner reviews the assignee and the assignee the owner, once each."""
    if actor.user_id not in (task.owner_id, task.assignee_id):
        raise Forbidden("only the owner and the assignee review a task", code="not_participant")
    if task.status is not Status.COMPLETED:
        raise Conflict(f"the task is {task.status.value}, not completed", code="not_completed")
    if already_reviewed:
        raise Conflict("you have already reviewed this task", code="already_reviewed")


def ensure_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("admins only", code="role_forbidden")


def _ensure_owner(task: Task, actor: Actor) -> None:
    if actor.user_id != task.owner_id:
        raise Forbidden("only the task's owner may do this", code="not_owner")
