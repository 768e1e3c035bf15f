"""What the HTTP layer hands the use cases about the caller, and the tokens they hand back."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote
from uuid import UUID

from chore_auth.domain.account_tokens import Purpose


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
    """Where mailed links point: the platform's public URL (AUTH_PUBLIC_URL)."""

    base_url: str

    def link(self, purpose: Purpose, token: str) -> str:
        base = self.base_url.rstrip("/")
        if purpose is Purpose.PASSWORD_RESET:
            # A page of the client app, which posts {token, password} to /auth/password/reset.
            return f"{base}/reset-password?token={quote(token)}"
        return f"{base}/auth/email/verify?token={quote(token)}"
