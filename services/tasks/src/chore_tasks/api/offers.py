"""/tasks/{task_id}/offers: what taskers offer to do an open task."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from chore_common.auth.principal import requires
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.pagination import next_cursor, page_key
from chore_common.http.requests import if_match, path_id
from chore_common.http.validation import json_response, parse_body, parse_query
from chore_common.idempotency.middleware import idempotent
from chore_tasks import usecases
from chore_tasks.api.requests import (
    check_email_verified,
    on_task,
)
from chore_tasks.api.schemas import (
    OfferIn,
    OfferOut,
    OfferPage,
    OfferPatchIn,
    OfferQuery,
    PersonOut,
)
from chore_tasks.domain.errors import (
    OfferNotFound,
)
from chore_tasks.domain.model import (
    Offer,
)
from chore_tasks.keys import UOW
from chore_tasks.usecases.commands import ListOffers, MakeOffer, UpdateOffer, WithdrawOffer

routes = ApiRoutes()
TAGS = ("offers",)
C = TypeVar("C")


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
    cmd = on_task(
        request,
        MakeOffer,
        price_cents=body.price_cents,
        message=body.message,
        currency=body.currency,
    )
    offer = await usecases.make_offer(request.app[UOW](), cmd, utcnow())
    response = json_response(OfferOut.of(offer), status=201)
    response.headers["ETag"] = offer.etag  # for If-Match on its update or withdrawal
    return response


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
    page, people = await usecases.list_offers_with_people(request.app[UOW](), cmd, utcnow())
    items = [
        OfferOut.of(o).model_copy(update={"tasker": PersonOut.of(people[o.tasker_id])})
        for o in page.items
    ]
    out = OfferPage(items=items, next_cursor=next_cursor(page.next_key))
    return json_response(out)


def offer_response(offer: Offer) -> web.Response:
    response = json_response(OfferOut.of(offer))
    response.headers["ETag"] = offer.etag
    return response


def on_offer(request: web.Request, command: Callable[..., C], **fields: object) -> C:
    """`command` on the offer in the path, against the caller's If-Match (the offer's ETag)."""
    offer_id = path_id(request, "offer_id", OfferNotFound)
    return on_task(request, command, offer_id=offer_id, if_match=if_match(request), **fields)


@routes.patch(
    "/tasks/{task_id}/offers/{offer_id}",
    body=OfferPatchIn,
    response=OfferOut,
    tags=TAGS,
    summary="Change the price or message of your open offer (its tasker; If-Match)",
    errors=(403, 404, 409, 412),
)
@requires("tasker")
async def update_offer(request: web.Request) -> web.Response:
    body = await parse_body(request, OfferPatchIn)
    cmd = on_offer(request, UpdateOffer, price_cents=body.price_cents, message=body.message)
    return offer_response(await usecases.update_offer(request.app[UOW](), cmd, utcnow()))


@routes.post(
    "/tasks/{task_id}/offers/{offer_id}/withdraw",
    response=OfferOut,
    tags=TAGS,
    summary="Withdraw your open offer (its tasker; If-Match)",
    errors=(403, 404, 409, 412),
)
@requires("tasker")
async def withdraw_offer(request: web.Request) -> web.Response:
    cmd = on_offer(request, WithdrawOffer)
    return offer_response(await usecases.withdraw_offer(request.app[UOW](), cmd, utcnow()))
