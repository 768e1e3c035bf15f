"""Reading who asks, and about which task, from a request, in the tasks domain's terms."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from aiohttp import web

from chore_common.auth.principal import principal
from chore_common.errors import (
    Forbidden,
    InvalidInput,
)
from chore_common.http.fields import (
    sane_instant,
)
from chore_common.http.pagination import (
    decode_cursor,
    encode_cursor,
)
from chore_common.http.requests import path_id
from chore_common.keys import SETTINGS
from chore_tasks.domain.errors import TaskNotFound
from chore_tasks.domain.model import Actor, Role
from chore_tasks.domain.search import KEY_TYPES, SearchKey, Sort

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


def search_cursor(key: SearchKey | None) -> str | None:
    """The cursor of the browse page after `key`: its sort, key value and id."""
    if key is None:
        return None
    value = key.value.isoformat() if isinstance(key.value, datetime) else key.value
    return encode_cursor({"s": key.sort.value, "k": value, "i": str(key.id)})


def search_key(cursor: str | None) -> SearchKey | None:
    """A browse cursor back; anything this service would not have issued is 422."""
    if cursor is None:
        return None
    position = decode_cursor(cursor)
    try:
        sort = Sort(str(position["s"]))
        return SearchKey(sort, _key_value(KEY_TYPES[sort], position.get("k")), UUID(position["i"]))
    except (ValueError, TypeError, KeyError, AttributeError):
        raise InvalidInput(
            "The cursor is not one this service issued.", code="invalid_cursor"
        ) from None


def _key_value(kind: type, value: object) -> datetime | int | float:
    if kind is datetime and isinstance(value, str):
        return sane_instant(datetime.fromisoformat(value))
    if kind is int and type(value) is int and abs(value) < 2**63:
        return value
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is float and number and math.isfinite(float(value)):  # type: ignore[arg-type]
        return float(value)  # type: ignore[arg-type]
    raise ValueError(f"not a {kind.__name__}")
