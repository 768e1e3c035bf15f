"""Reading who asks from a request, in the tasks domain's terms."""

from __future__ import annotations

from aiohttp import web

from chore_common.auth.principal import principal
from chore_tasks.domain.model import Actor, Role


def actor(request: web.Request) -> Actor:
    who = principal(request)
    return Actor(who.user_id, Role.from_token(who.role))
