"""Every /auth route, one module per resource, in the order they are mounted."""

from __future__ import annotations

from chore_auth.api import accounts, admin, email, jwks, passwords, profiles, sessions, tokens
from chore_common.http.openapi import ApiRoutes

ROUTES: tuple[ApiRoutes, ...] = (
    accounts.routes,
    profiles.routes,
    passwords.routes,
    email.routes,
    tokens.routes,
    sessions.routes,
    admin.routes,
    jwks.routes,
)
