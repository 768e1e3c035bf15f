"""/tasks/me/export: what tasks holds about the caller, for the platform export."""

from __future__ import annotations

from aiohttp import web

from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.validation import json_response
from chore_tasks.api.requests import actor
from chore_tasks.api.schemas import (
    DisputeOut,
    OfferOut,
    ReviewOut,
    TaskOut,
    TasksExportOut,
)
from chore_tasks.keys import UOW
from chore_tasks.usecases.exports import export_user_data

routes = ApiRoutes()
TAGS = ("export",)


@routes.get(
    "/tasks/me/export",
    response=TasksExportOut,
    tags=TAGS,
    summary="Everything tasks holds about me: tasks posted and assigned, offers, reviews, disputes",
)
async def export_me(request: web.Request) -> web.Response:
    me = actor(request)
    found = await export_user_data(request.app[UOW](), me)
    out = TasksExportOut(
        exported_at=utcnow(),
        user_id=me.user_id,
        tasks=[TaskOut.of(t) for t in found.tasks],
        tasks_assigned=[TaskOut.of(t) for t in found.tasks_assigned],
        offers=[OfferOut.of(o) for o in found.offers],
        reviews_written=[ReviewOut.of(r) for r in found.reviews_written],
        reviews_received=[ReviewOut.of(r) for r in found.reviews_received],
        disputes=[DisputeOut.of(d) for d in found.disputes],
    )
    return json_response(out, headers={"Cache-Control": "no-store"})
