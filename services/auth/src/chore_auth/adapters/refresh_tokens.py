"""Opaque refresh tokens: 256 random bits for the client, only a SHA-256 kept by us.

A fast hash is enough here (unlike passwords): the token is random and long, so the
stored hash cannot be reversed by guessing, and lookup by hash stays one index probe.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "rt_"


def new_refresh_token() -> tuple[str, str]:
    """(the token to hand out once, the hash to store)."""
    token = PREFIX + secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
