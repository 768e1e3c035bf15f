"""Typed `web.AppKey`s of the auth service: what bootstrap hands the app, typed as ports."""

from __future__ import annotations

from aiohttp import web

from chore_auth.domain.sessions import SessionPolicy
from chore_auth.domain.throttle import LoginThrottle
from chore_auth.usecases.commands import Links
from chore_auth.usecases.ports import (
    Hasher,
    KeyRing,
    OnRevoked,
    RefreshTokenMint,
    Spawn,
    UowFactory,
)

UOW: web.AppKey[UowFactory] = web.AppKey("auth.uow")
HASHER: web.AppKey[Hasher] = web.AppKey("auth.hasher")
KEYRING: web.AppKey[KeyRing] = web.AppKey("auth.keyring")
REFRESH_TOKENS: web.AppKey[RefreshTokenMint] = web.AppKey("auth.refresh_tokens")
ON_REVOKED: web.AppKey[OnRevoked] = web.AppKey("auth.on_revoked")
SESSION_POLICY = web.AppKey("auth.session_policy", SessionPolicy)
LOGIN_THROTTLE = web.AppKey("auth.login_throttle", LoginThrottle)
LINKS = web.AppKey("auth.links", Links)
SPAWN: web.AppKey[Spawn] = web.AppKey("auth.spawn")
