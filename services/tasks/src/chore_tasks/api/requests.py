"""Reading who asks, and about which task, from a request, in the tasks domain's terms."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from chore_common.auth.principal import principal
from chore_common.errors import Forbidden
from chore_common.http.requests import path_id
from chore_common.keys import SETTINGS
from chore_tasks.domain.errors import TaskNotFound
from chore_tasks.domain.model import Actor, Role

C = TypeVar("C")


def actor(request: web.Request) -> Actor:
    who = principal(request)
    return Actor(who.user_id, Role.from_token(who.role))


def check_email_verified(request: web.Request) -> None:
    """Posting tasks and offers needs a verified email: the token's `ev` claim (docs/auth.md),
    unless TASKS_REQUIRE_VERIFIED_EMAIL is off."""
    if getattr(request.app[SETTINGS], "require_verified_email", True) and not (
        principal(request).email_verified
    ):
        raise Forbidden("Verify your email address first.", code="email_unverified")


def on_task(request: web.Request, command: Callable[..., C], **fields: object) -> C:
    """`command` on the task in the path (404 if the id is not one), by the caller."""
    return command(
        task_id=path_id(request, "task_id", TaskNotFound), actor=actor(request), **fields
    )
