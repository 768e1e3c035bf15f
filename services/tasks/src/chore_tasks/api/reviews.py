"""Reviews: /tasks/{task_id}/review (either side of a completed task reviews the other) and
/tasks/users/{user_id}/reviews|rating (what anyone signed in may read of a user)."""

from __future__ import annotations

from aiohttp import web

from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.pagination import next_cursor, page_key
from chore_common.http.requests import path_id
from chore_common.http.validation import json_response, parse_body, parse_query
from chore_common.idempotency.middleware import idempotent
from chore_tasks import usecases
from chore_tasks.api.requests import actor, on_task
from chore_tasks.api.schemas import (
    RatingOut,
    ReviewIn,
    ReviewOut,
    UserReviewPage,
    UserReviewQuery,
)
from chore_tasks.domain.errors import UserNotFound
from chore_tasks.keys import RETRY, REVIEW_BLIND, UOW
from chore_tasks.usecases.commands import GetUserRating, ListUserReviews, ReviewTask

routes = ApiRoutes()
TAGS = ("reviews",)


@routes.post(
    "/tasks/{task_id}/review",
    body=ReviewIn,
    response=ReviewOut,
    status=201,
    tags=TAGS,
    summary="Review the other side of a completed task (owner or assignee, once each); "
    "hidden until both have written or the blind period ends",
    errors=(403, 404, 409),
)
@idempotent
async def review_task(request: web.Request) -> web.Response:
    body = await parse_body(request, ReviewIn)
    cmd = on_task(request, ReviewTask, rating=body.rating, comment=body.comment)
    app = request.app
    review = await usecases.review_task(
        app[UOW](), cmd, utcnow(), blind=app[REVIEW_BLIND], retry=app[RETRY]
    )
    return json_response(ReviewOut.of(review), status=201)


@routes.get(
    "/tasks/users/{user_id}/reviews",
    query=UserReviewQuery,
    response=UserReviewPage,
    tags=TAGS,
    summary="A user's visible reviews, most recently published first, with their rating",
    errors=(404,),
)
async def user_reviews(request: web.Request) -> web.Response:
    query = parse_query(request, UserReviewQuery)
    cmd = ListUserReviews(
        user_id=path_id(request, "user_id", UserNotFound),
        actor=actor(request),
        limit=query.limit,
        after=page_key(query.cursor),
    )
    found = await usecases.list_user_reviews(request.app[UOW](), cmd, utcnow())
    out = UserReviewPage(
        items=[ReviewOut.of(r) for r in found.page.items],
        next_cursor=next_cursor(found.page.next_key),
        rating=RatingOut.of(found.rating),
    )
    return json_response(out)


@routes.get(
    "/tasks/users/{user_id}/rating",
    response=RatingOut,
    tags=TAGS,
    summary="A user's rating: count, mean and distribution of their visible reviews",
    errors=(404,),
)
async def user_rating(request: web.Request) -> web.Response:
    cmd = GetUserRating(user_id=path_id(request, "user_id", UserNotFound), actor=actor(request))
    summary = await usecases.user_rating(request.app[UOW](), cmd, utcnow())
    return json_response(RatingOut.of(summary))
