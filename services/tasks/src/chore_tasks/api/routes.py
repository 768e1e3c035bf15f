"""Every /tasks route, in the order they are mounted."""

from __future__ import annotations

from chore_common.http.openapi import ApiRoutes
from chore_tasks.api import (
    admin_disputes,
    admin_jobs,
    completion,
    edits,
    exports,
    offers,
    reports,
    reviews,
    tasks,
)

ROUTES: tuple[ApiRoutes, ...] = (
    admin_jobs.routes,
    admin_disputes.routes,
    tasks.routes,
    completion.routes,
    edits.routes,
    offers.routes,
    reviews.routes,
    exports.routes,
    reports.routes,
    reports.admin_routes,
)
