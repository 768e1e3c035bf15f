"""Every /messaging route, in the order they are mounted."""

from __future__ import annotations

from aiohttp import web

from chore_common.http.openapi import ApiRoutes
from chore_messaging.api import conversations, exports, notifications, preferences, reports, ws

ROUTES: tuple[ApiRoutes | web.RouteTableDef, ...] = (
    conversations.routes,
    notifications.routes,
    preferences.routes,
    exports.routes,
    reports.routes,
    reports.admin_routes,
    ws.routes,
)
