"""/messaging/settings: the caller's notification settings (per kind: in-app and email) and
quiet hours for email, in the caller's time zone. PUT changes what it names, keeps the rest."""

from __future__ import annotations

from datetime import time

from aiohttp import web
from pydantic import BaseModel, Field

from chore_common.auth.principal import principal
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.validation import StrictModel, json_response, parse_body
from chore_messaging.domain.preferences import Channel, Preferences, QuietHours, SettingKind
from chore_messaging.keys import UOW
from chore_messaging.usecases import preferences

routes = ApiRoutes()
SETTINGS = ("settings",)
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class ChannelsIn(StrictModel):
    in_app: bool | None = None
    email: bool | None = None


class ChannelsOut(BaseModel):
    in_app: bool
    email: bool


class QuietHoursBody(StrictModel):
    start: str = Field(pattern=HHMM, description="HH:MM local time, e.g. 22:00")
    end: str = Field(pattern=HHMM, description="HH:MM local time, e.g. 07:00 (may wrap midnight)")


class SettingsIn(StrictModel):
    kinds: dict[SettingKind, ChannelsIn] = Field(
        default_factory=dict, description="only the kinds and channels to change"
    )
    time_zone: str | None = Field(None, max_length=64, description="IANA name, e.g. Europe/Berlin")
    quiet_hours: QuietHoursBody | None = Field(
        None, description="email is held back inside them; null turns them off"
    )


class SettingsOut(BaseModel):
    kinds: dict[SettingKind, ChannelsOut]
    time_zone: str
    quiet_hours: QuietHoursBody | None

    @classmethod
    def of(cls, prefs: Preferences) -> SettingsOut:
        kinds = {
            kind: ChannelsOut(
                in_app=Channel.IN_APP in prefs.channels.get(kind, frozenset()),
                email=Channel.EMAIL in prefs.channels.get(kind, frozenset()),
            )
            for kind in SettingKind
        }
        quiet = None
        if prefs.quiet is not None:
            start, end = prefs.quiet.start.strftime("%H:%M"), prefs.quiet.end.strftime("%H:%M")
            quiet = QuietHoursBody(start=start, end=end)
        return cls(kinds=kinds, time_zone=prefs.time_zone, quiet_hours=quiet)


@routes.get(
    "/messaging/settings",
    response=SettingsOut,
    tags=SETTINGS,
    summary="The caller's notification settings (every channel on until changed)",
)
async def get_settings(request: web.Request) -> web.Response:
    found = await preferences.get_preferences(request.app[UOW](), principal(request).user_id)
    return json_response(SettingsOut.of(found))


@routes.put(
    "/messaging/settings",
    body=SettingsIn,
    response=SettingsOut,
    tags=SETTINGS,
    summary="Change notification settings: what the body names; the rest is kept",
    errors=(422,),
)
async def put_settings(request: web.Request) -> web.Response:
    body = await parse_body(request, SettingsIn)
    switches = {
        kind: {
            channel: value
            for channel, value in ((Channel.IN_APP, wanted.in_app), (Channel.EMAIL, wanted.email))
            if value is not None
        }
        for kind, wanted in body.kinds.items()
    }
    quiet = None
    if body.quiet_hours is not None:
        start, end = body.quiet_hours.start, body.quiet_hours.end
        quiet = QuietHours(time.fromisoformat(start), time.fromisoformat(end))
    changed = await preferences.change_preferences(
        request.app[UOW](),
        principal(request).user_id,
        utcnow(),
        switches=switches,
        time_zone=body.time_zone,
        quiet=quiet,
        clear_quiet="quiet_hours" in body.model_fields_set and body.quiet_hours is None,
    )
    return json_response(SettingsOut.of(changed))
