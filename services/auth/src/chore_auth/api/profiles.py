"""/auth/me/profile and /auth/users/{user_id}: one's profile, and anyone's public one."""

from __future__ import annotations

from aiohttp import web

from chore_auth.api.requests import caller
from chore_auth.api.schemas import ProfileOut, ProfilePatchIn, PublicProfileOut
from chore_auth.domain.errors import UserNotFound
from chore_auth.domain.profiles import ProfileChanges
from chore_auth.keys import UOW
from chore_auth.usecases import profiles
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.requests import path_id
from chore_common.http.validation import json_response, parse_body

routes = ApiRoutes()
TAGS = ("profiles",)


@routes.get("/auth/me/profile", response=ProfileOut, tags=TAGS, summary="My profile")
async def my_profile(request: web.Request) -> web.Response:
    user = await profiles.my_profile(request.app[UOW], caller(request), now=utcnow())
    return json_response(ProfileOut.of(user))


@routes.patch(
    "/auth/me/profile",
    body=ProfilePatchIn,
    response=ProfileOut,
    tags=TAGS,
    summary="Change my name, bio, skills, avatar or city",
    errors=(422,),
)
async def update_profile(request: web.Request) -> web.Response:
    body = await parse_body(request, ProfilePatchIn)
    changes = ProfileChanges(
        name=body.name,
        bio=body.bio,
        skills=None if body.skills is None else tuple(body.skills),
        avatar_url=body.avatar_url or None,
        city=body.city,
        clear_avatar=body.avatar_url == "",
    )
    user = await profiles.update_profile(request.app[UOW], caller(request), changes, now=utcnow())
    return json_response(ProfileOut.of(user))


@routes.get(
    "/auth/users/{user_id}",
    response=PublicProfileOut,
    auth=False,
    tags=TAGS,
    summary="A user's public profile (never the email)",
    errors=(404,),
)
async def public_profile(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id", UserNotFound)
    user = await profiles.public_profile(request.app[UOW], user_id)
    return json_response(PublicProfileOut.of(user))
