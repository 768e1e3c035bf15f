"""Who may do what to a task. Role gates on routes are coarse; these rules need the aggregate.

Visibility, and why some refusals are 404 rather than 403:
- An `open` task is the marketplace's shop window: every signed-in user may see it, so a
  stranger's command on it is refused with 403 (`Forbidden`); hiding it would be pointless.
- Once a task leaves `open` it is private to its participants: the owner, the assignee,
  taskers who made an offer on it (they need to learn how it ended), and admins. To anyone
  else it does not exist: reads and commands alike get 404 (`TaskNotFound`), so nobody can
  probe ids to learn who hired whom.
- An offer id that does not belong to the task in the URL is `OfferNotFound`, never 403.
Checks run in this order: visible (404), allowed (403), then state (409), so a stranger
never learns a task's state or version.
"""

from __future__ import annotations

from uuid import UUID

from chore_common.errors import Conflict, Forbidden
from chore_tasks.domain.errors import InvalidTransition, TaskNotFound
from chore_tasks.domain.model import Action, Actor, Role, Status, Task


def can_view(task: Task, actor: Actor, *, has_offered: bool = False) -> bool:
    return (
        task.status is Status.OPEN
        or actor.role in (Role.ADMIN, Role.SYSTEM)
        or task.is_participant(actor)
        or has_offered
    )


def needs_offer_lookup(task: Task, actor: Actor) -> bool:
    """Whether visibility hangs on the actor having offered (so the caller must look it up)."""
    return actor.role is Role.TASKER and not can_view(task, actor)


def ensure_visible(task: Task, actor: Actor, *, has_offered: bool = False) -> None:
    if not can_view(task, actor, has_offered=has_offered):
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
    if action is Action.EXPIRE:
        if actor.role is not Role.SYSTEM:
            raise Forbidden("only the scheduler expires tasks", code="role_forbidden")
    elif action in (Action.ASSIGN, Action.CANCEL):
        _ensure_owner(task, actor)
    elif task.assignee_id is None:
        # START and COMPLETE with nobody assigned: no actor could ever do it, so the state is
        # what refuses (409), and the state is no secret to whoever can see the task.
        raise InvalidTransition(task.status, action)
    elif actor.user_id != task.assignee_id:
        raise Forbidden("only the assignee may do this", code="not_assignee")


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
