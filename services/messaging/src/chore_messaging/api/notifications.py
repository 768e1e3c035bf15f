"""/messaging/notifications: the caller's notifications, and marking one read.

Someone else's notification is a 404, like a missing one (docs/messaging.md).
"""

from __future__ import annotations

from aiohttp import web

from chore_common.auth.principal import principal
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.pagination import next_cursor, page_key
from chore_common.http.requests import path_id
from chore_common.http.validation import json_response, parse_query
from chore_messaging.api.schemas import NotificationOut, NotificationPage, NotificationQuery
from chore_messaging.domain.errors import NotificationNotFound
from chore_messaging.domain.people import person_of
from chore_messaging.keys import UOW
from chore_messaging.usecases import notifications, people

routes = ApiRoutes()
NOTIFICATIONS = ("notifications",)


@routes.get(
    "/messaging/notifications",
    query=NotificationQuery,
    response=NotificationPage,
    tags=NOTIFICATIONS,
    summary="The caller's notifications, newest first",
)
async def list_notifications(request: web.Request) -> web.Response:
    query = parse_query(request, NotificationQuery)
    page = await notifications.list_notifications(
        request.app[UOW](),
        principal(request).user_id,
        limit=query.limit,
        after=page_key(query.cursor),
        unread_only=query.unread,
    )
    who = principal(request).user_id
    about = [p for p in (person_of(n.data, who) for n in page.items) if p is not None]
    found = await people.people(request.app[UOW](), about)
    items = [NotificationOut.of(n).with_person(found, who) for n in page.items]
    out = NotificationPage(items=items, next_cursor=next_cursor(page.next_key))
    return json_response(out)


@routes.post(
    "/messaging/notifications/{notification_id}/read",
    response=NotificationOut,
    tags=NOTIFICATIONS,
    summary="Mark one of the caller's notifications read (idempotent)",
    errors=(404,),
)
async def read_notification(request: web.Request) -> web.Response:
    note = await notifications.mark_notification_read(
        request.app[UOW](),
        path_id(request, "notification_id", NotificationNotFound),
        principal(request).user_id,
        utcnow(),
    )
    return json_response(NotificationOut.of(note))
