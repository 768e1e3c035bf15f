"""What the HTTP layer hands the use cases about the caller, and the tokens they hand back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import quote
from uuid import UUID

from chore_auth.domain.account_tokens import LIFETIME, Purpose
from chore_auth.domain.throttle import ThrottlePolicy


@dataclass(frozen=True)
class Caller:
    """Who is asking, as the bearer token said (already verified by the middleware)."""

    user_id: UUID
    session_id: UUID


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: UUID


@dataclass(frozen=True)
class Links:
    """Mailed links: where they point (the platform's public URL, AUTH_PUBLIC_URL) and how
    long each kind works (tests shorten them)."""

    base_url: str
    lifetimes: dict[Purpose, timedelta] = field(default_factory=lambda: dict(LIFETIME))
    # Reset links one account may be sent per window: more requests are answered alike and
    # mail nothing, so nobody can flood a mailbox through the forgot form.
    resets: ThrottlePolicy = field(default_factory=lambda: ThrottlePolicy(5, timedelta(minutes=15)))

    def link(self, purpose: Purpose, token: str) -> str:
        base = self.base_url.rstrip("/")
        if purpose is Purpose.PASSWORD_RESET:
            # A page of the client app, which posts {token, password} to /auth/password/reset.
            return f"{base}/reset-password?token={quote(token)}"
        return f"{base}/auth/email/verify?token={quote(token)}"
