"""Mailing a single-use link: the token made, its hash stored, the mail event recorded."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from chore_auth.domain import account_tokens
from chore_auth.domain.account_tokens import Purpose
from chore_auth.domain.events import LinkMailed
from chore_auth.domain.model import User
from chore_auth.usecases.commands import Links
from chore_auth.usecases.ports import RefreshTokenMint, UnitOfWork


async def mail_link(
    uow: UnitOfWork,
    user: User,
    purpose: Purpose,
    *,
    mint: RefreshTokenMint,
    links: Links,
    now: datetime,
) -> None:
    """In the caller's transaction. The plain token leaves only inside the event's link (the
    mail notifier's business); it is never logged and never stored."""
    plain, token_hash = mint.new_token()
    token = account_tokens.issue(
        user,
        purpose,
        token_id=uuid4(),
        token_hash=token_hash,
        now=now,
        lifetime=links.lifetimes.get(purpose),
    )
    await uow.account_tokens.add(token)
    uow.record(
        LinkMailed(
            purpose=purpose.value,
            user_id=user.id,
            email=user.email,
            name=user.name,
            link=links.link(purpose, plain),
            expires_at=token.expires_at,
            occurred_at=now,
        )
    )


async def redeem(
    uow: UnitOfWork, mint: RefreshTokenMint, token: str, purpose: Purpose, *, now: datetime
) -> User:
    """Spend `token` in the caller's transaction: its user, or `InvalidAccountToken` (400)."""
    found = await uow.account_tokens.by_hash(mint.hash_token(token))
    user = None if found is None else await uow.users.get(found.user_id)
    spent, user = account_tokens.redeem(found, user, purpose, now=now)
    # Compare-and-set: of two requests with one token, one wins and the other gets the 400.
    if not await uow.account_tokens.mark_used(spent.id, now):
        account_tokens.redeem(spent, user, purpose, now=now)  # raises: it is used now
    return user
