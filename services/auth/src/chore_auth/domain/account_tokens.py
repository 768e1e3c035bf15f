"""Single-use account tokens: password reset (30 min) and email verification (48 h).

The user gets the token in a mailed link; auth keeps only its hash (adapters.refresh_tokens'
mint hashes both kinds). A token works once, before it expires, and for a verification
only while the account's email is still the address it was sent to.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from chore_auth.domain.errors import InvalidAccountToken
from chore_auth.domain.model import User


class Purpose(enum.StrEnum):
    PASSWORD_RESET = "password_reset"  # noqa: S105 - an event name
    VERIFY_EMAIL = "verify_email"


LIFETIME: dict[Purpose, timedelta] = {
    Purpose.PASSWORD_RESET: timedelta(minutes=30),
    Purpose.VERIFY_EMAIL: timedelta(hours=48),
}


@dataclass(frozen=True)
class AccountToken:
    id: UUID
    user_id: UUID
    purpose: Purpose
    token_hash: str
    email: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


def issue(
    user: User,
    purpose: Purpose,
    *,
    token_id: UUID,
    token_hash: str,
    now: datetime,
    lifetime: timedelta | None = None,
) -> AccountToken:
    """A token for `user`'s current address, working for `lifetime` (LIFETIME's by default)."""
    return AccountToken(
        id=token_id,
        user_id=user.id,
        purpose=purpose,
        token_hash=token_hash,
        email=user.email,
        created_at=now,
        expires_at=now + (LIFETIME[purpose] if lifetime is None else lifetime),
    )


def redeem(
    token: AccountToken | None, user: User | None, purpose: Purpose, *, now: datetime
) -> tuple[AccountToken, User]:
    """The token marked used, and its user; `InvalidAccountToken` (400) for anything else:
    unknown, another purpose, used, expired, or an account deleted or moved to another email."""
    if (
        token is None
        or user is None
        or token.purpose is not purpose
        or token.used_at is not None
        or now >= token.expires_at
        or user.deleted_at is not None
        or token.email != user.email
    ):
        raise InvalidAccountToken("This link is not valid any more; ask for a new one.")
    return replace(token, used_at=now), user
