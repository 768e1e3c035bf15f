"""Typed `web.AppKey`s of the auth service."""

from __future__ import annotations

from aiohttp import web

from chore_auth.adapters.passwords import PasswordHasher
from chore_auth.adapters.signing import KeyRing
from chore_auth.usecases.deps import Deps
from chore_common.auth.revocation import RevokedSessions

DEPS = web.AppKey("auth.deps", Deps)
KEYRING = web.AppKey("auth.keyring", KeyRing)
HASHER = web.AppKey("auth.hasher", PasswordHasher)
REVOKED = web.AppKey("auth.revoked", RevokedSessions)
