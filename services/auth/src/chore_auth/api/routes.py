"""Every /auth route, one module per resource, in the order they are mounted."""

from __future__ import annotations

from chore_auth.api import accounts, jwks, sessions, tokens
from chore_common.http.openapi import ApiRoutes

ROUTES: tuple[ApiRoutes, ...] = (accounts.routes, tokens.routes, sessions.routes, jwks.routes)
