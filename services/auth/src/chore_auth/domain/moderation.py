"""Account status moves an admin makes: suspend, unsuspend, ban. Table-driven."""

from __future__ import annotations

import enum
from dataclasses import replace
from datetime import datetime

from chore_auth.domain.errors import AccountBanned, AccountSuspended, InvalidStatusMove
from chore_auth.domain.events import StatusChanged
from chore_auth.domain.model import AccountStatus, User

REASON_MAX = 500


class Move(enum.StrEnum):
    SUSPEND = "suspend"
    UNSUSPEND = "unsuspend"
    BAN = "ban"


A, S, B = AccountStatus.ACTIVE, AccountStatus.SUSPENDED, AccountStatus.BANNED

# (move, from) -> to. A ban is final here: lifting one is an operator's database decision.
MOVES: dict[tuple[Move, AccountStatus], AccountStatus] = {
    (Move.SUSPEND, A): S,
    (Move.UNSUSPEND, S): A,
    (Move.BAN, A): B,
    (Move.BAN, S): B,
}


def apply(user: User, move: Move, reason: str, *, now: datetime) -> tuple[User, StatusChanged]:
    target = MOVES.get((move, user.status))
    if target is None:
        raise InvalidStatusMove(f"Cannot {move.value} an account that is {user.status.value}.")
    moved = replace(user, status=target, status_reason=reason[:REASON_MAX], updated_at=now)
    return moved, StatusChanged(user.id, target, reason[:REASON_MAX], now)


def ends_sessions(status: AccountStatus) -> bool:
    return status is not AccountStatus.ACTIVE


def check_may_log_in(user: User) -> None:
    """After the password matched: a suspended or banned account is told so (403)."""
    if user.status is AccountStatus.BANNED:
        raise AccountBanned("This account is banned.")
    if user.status is AccountStatus.SUSPENDED:
        raise AccountSuspended("This account is suspended.")
