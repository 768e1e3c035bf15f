"""A tiny service on the common kit, for the kit's own tests and `make bench`.

`python -m chore_common.testing.demo_app` serves it (`DEMO_PORT`, `DEMO_WORKERS`, ...).
"""

from __future__ import annotations

import asyncio
import os
import uuid

from aiohttp import web
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from chore_common.errors import NotFound
from chore_common.http.app import create_service_app
from chore_common.http.openapi import ApiRoutes
from chore_common.http.pagination import Page, PageQuery, decode_cursor, encode_cursor
from chore_common.http.validation import StrictModel, json_response, parse_body, parse_query
from chore_common.serving import main
from chore_common.settings import ServiceSettings

ITEMS = web.AppKey("demo.items", dict[str, "ItemOut"])


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore", validate_default=True)
    service_name = "demo"


class ItemIn(StrictModel):
    name: str = Field(min_length=1, max_length=100)
    quantity: int = Field(1, ge=1, le=1000)
    password: str | None = Field(None, description="only here to prove it never gets logged")


class ItemOut(StrictModel):
    id: str
    name: str
    quantity: int


class SlowQuery(StrictModel):
    seconds: float = Field(0.5, ge=0, le=30)


routes = ApiRoutes()


@routes.post("/items", body=ItemIn, response=ItemOut, status=201, tags=("items",), auth=False)
async def create_item(request: web.Request) -> web.Response:
    body = await parse_body(request, ItemIn)
    item = ItemOut(id=uuid.uuid4().hex, name=body.name, quantity=body.quantity)
    request.app[ITEMS][item.id] = item
    return json_response(item, status=201)


@routes.get("/items", query=PageQuery, response=Page[ItemOut], tags=("items",), auth=False)
async def list_items(request: web.Request) -> web.Response:
    query = parse_query(request, PageQuery)
    after = decode_cursor(query.cursor)["id"] if query.cursor else ""
    ordered = sorted(i for i in request.app[ITEMS] if i > after)
    page = [request.app[ITEMS][i] for i in ordered[: query.limit]]
    more = len(ordered) > query.limit
    return json_response(
        Page[ItemOut](items=page, next_cursor=encode_cursor({"id": page[-1].id}) if more else None)
    )


@routes.get("/items/{id}", response=ItemOut, tags=("items",), auth=False, errors=(404,))
async def get_item(request: web.Request) -> web.Response:
    item = request.app[ITEMS].get(request.match_info["id"])
    if item is None:
        raise NotFound("No item with this id.", code="item_not_found")
    return json_response(item)


@routes.get("/slow", query=SlowQuery, auth=False)
async def slow(request: web.Request) -> web.Response:
    query = parse_query(request, SlowQuery)
    await asyncio.sleep(query.seconds)
    return json_response({"slept": query.seconds})


@routes.get("/pid", auth=False)
async def pid(request: web.Request) -> web.Response:
    """Which worker answered: lets tests see WORKERS>1 spread connections."""
    return json_response({"pid": os.getpid()})


@routes.get("/boom", auth=False)
async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("demo failure")


def create_app(settings: DemoSettings) -> web.Application:
    app = create_service_app(settings, title="demo", version="1.0.0")
    app[ITEMS] = {}
    app.add_routes(routes)
    return app


if __name__ == "__main__":
    main(DemoSettings, create_app)
