"""/tasks/{task_id}/offers: what taskers offer to do an open task."""

from __future__ import annotations

from aiohttp import web

from chore_common.auth.principal import requires
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.pagination import next_cursor, page_key
from chore_common.http.validation import json_response, parse_body, parse_query
from chore_common.idempotency.middleware import idempotent
from chore_tasks import usecases
from chore_tasks.api.requests import check_email_verified, on_task
from chore_tasks.api.schemas import OfferIn, OfferOut, OfferPage, OfferQuery
from chore_tasks.keys import UOW
from chore_tasks.usecases.commands import ListOffers, MakeOffer

routes = ApiRoutes()
TAGS = ("offers",)


@routes.post(
    "/tasks/{task_id}/offers",
    body=OfferIn,
    response=OfferOut,
    status=201,
    tags=TAGS,
    summary="Offer to do an open task (taskers; one open offer each)",
    errors=(403, 404, 409),
)
@requires("tasker")
@idempotent
async def make_offer(request: web.Request) -> web.Response:
    check_email_verified(request)
    body = await parse_body(request, OfferIn)
    cmd = on_task(request, MakeOffer, price_cents=body.price_cents, message=body.message)
    offer = await usecases.make_offer(request.app[UOW](), cmd, utcnow())
    return json_response(OfferOut.of(offer), status=201)


@routes.get(
    "/tasks/{task_id}/offers",
    query=OfferQuery,
    response=OfferPage,
    tags=TAGS,
    summary="Offers on a task: all of them to the owner, their own to a tasker",
    errors=(403, 404),
)
async def list_offers(request: web.Request) -> web.Response:
    query = parse_query(request, OfferQuery)
    cmd = on_task(request, ListOffers, limit=query.limit, after=page_key(query.cursor))
    page = await usecases.list_offers(request.app[UOW](), cmd, utcnow())
    out = OfferPage(
        items=[OfferOut.of(o) for o in page.items], next_cursor=next_cursor(page.next_key)
    )
    return json_response(out)
