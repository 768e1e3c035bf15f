"""What the HTTP layer hands the use cases about the caller, and the tokens they hand back."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


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
