"""/messaging/me/export: what messaging holds about the caller, for the platform export."""

from __future__ import annotations

from aiohttp import web

from chore_common.auth.principal import principal
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.validation import json_response
from chore_messaging.api.preferences import SettingsOut
from chore_messaging.api.schemas import (
    ExportConversationOut,
    ExportMailOut,
    MessageOut,
    MessagingExportOut,
    NotificationOut,
)
from chore_messaging.keys import UOW
from chore_messaging.usecases.exports import export_user_data

routes = ApiRoutes()
TAGS = ("export",)


@routes.get(
    "/messaging/me/export",
    response=MessagingExportOut,
    tags=TAGS,
    summary="Everything messaging holds about me: conversations and their messages, "
    "notifications, settings, mail",
)
async def export_me(request: web.Request) -> web.Response:
    user_id = principal(request).user_id
    found = await export_user_data(request.app[UOW](), user_id)
    out = MessagingExportOut(
        exported_at=utcnow(),
        user_id=user_id,
        conversations=[ExportConversationOut.of(c) for c in found.conversations],
        messages=[MessageOut.of(m) for m in found.messages],
        notifications=[NotificationOut.of(n) for n in found.notifications],
        settings=SettingsOut.of(found.preferences).model_dump(mode="json"),
        mail_address=found.mail_address,
        mails=[ExportMailOut.of(m) for m in found.mails],
    )
    return json_response(out, headers={"Cache-Control": "no-store"})
