"""Typed request bodies and query strings on pydantic, and fast JSON responses.

Failures raise `HttpProblem`, which the problem middleware renders:
415 not JSON, 400 malformed JSON (or a body that cannot be decoded), 413 body over
`client_max_size`, 422 with a field list. The field list names fields and reasons but never
echoes the input: it may be a password. A client that hangs up while its body is read is
`ClientDisconnected` (a 499 nobody receives), never a 5xx.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, Self, TypeVar

import pydantic_core
from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from chore_common.http.problem import ClientDisconnected, HttpProblem

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for request and response models: unknown fields are an error, not ignored."""

    model_config = ConfigDict(extra="forbid")


class OutModel(BaseModel):
    """Base for response bodies read off a domain object: `XOut.of(obj)` takes each field from
    the attribute of the same name (pydantic's `from_attributes`, done in its Rust core), so no
    schema copies its fields out by hand. Enum members become plain values where the field is `str`.
    """

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, obj: object) -> Self:
        return cls.model_validate(obj)


def field_errors(exc: ValidationError, where: str) -> list[dict[str, str]]:
    return [
        {
            "in": where,
            "field": ".".join(str(part) for part in err["loc"]) or where,
            "message": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def _invalid(exc: ValidationError, where: str) -> HttpProblem:
    return HttpProblem(
        422,
        code="validation_failed",
        title="Unprocessable Content",
        detail=f"The request {where} is not valid.",
        errors=field_errors(exc, where),
    )


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def read_body(request: web.Request) -> bytes:
    """The whole body (cached by aiohttp: a second call returns it again)."""
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise HttpProblem(
            413,
            code="body_too_large",
            title="Content Too Large",
            detail=f"The body is larger than {request.client_max_size} bytes.",
        ) from None
    except web.RequestPayloadError:
        # A broken chunk or a Content-Encoding that does not decode: the client's bytes.
        raise HttpProblem(
            400, code="malformed_body", detail="The body could not be read as sent."
        ) from None
    except ConnectionError:
        # aiohttp fails the read with "Connection lost" when the client hangs up mid-body
        # (or the gateway gives up on a slow upload): nothing failed on our side.
        raise ClientDisconnected from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    if not _is_json(request.content_type):
        raise HttpProblem(
            415,
            code="unsupported_media_type",
            detail="Send the body as application/json.",
        )
    raw = await read_body(request)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors(include_url=False)):
            raise HttpProblem(
                400, code="malformed_json", detail="The body is not valid JSON."
            ) from None
        raise _invalid(exc, "body") from None


def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    cached: frozenset[str] | None = model.__dict__.get("__chore_list_fields__")
    if cached is None:
        cached = frozenset(
            name
            for name, field in model.model_fields.items()
            if typing.get_origin(field.annotation) in (list, tuple, set, frozenset)
        )
        model.__chore_list_fields__ = cached  # type: ignore[attr-defined]
    return cached


def parse_query(request: web.Request, model: type[M]) -> M:
    """Query string -> model; `?tag=a&tag=b` fills a list field, others take the first value."""
    query = request.query
    lists = _list_fields(model)
    data: dict[str, Any] = {k: (query.getall(k) if k in lists else query[k]) for k in query}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc, "query") from None


def json_response(
    data: BaseModel | Any,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    *,
    etag: str | None = None,
) -> web.Response:
    """A JSON response from a model, a list of models, or anything JSON-able."""
    if isinstance(data, BaseModel):
        body = data.__pydantic_serializer__.to_json(data)
    else:
        body = pydantic_core.to_json(data)
    response = web.Response(
        body=body, status=status, content_type="application/json", headers=headers
    )
    if etag is not None:
        response.headers["ETag"] = etag if etag.startswith(("W/", '"')) else f'"{etag}"'
    return response
