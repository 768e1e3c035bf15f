"""OpenAPI 3.1 from the same pydantic models that validate requests.

```python
routes = ApiRoutes()

@routes.post("/tasks", body=TaskIn, response=TaskOut, status=201, tags=("tasks",))
async def create_task(request: web.Request) -> web.Response: ...

app.add_routes(routes)   # GET /openapi.json now documents it
```

The decorators register plain aiohttp routes (no class-based views, no own error format) and
attach the declared models to the handler. `/openapi.json` walks the app's router, so the
document lists exactly the routes that are mounted, under the paths they are mounted at.
Schemas come from pydantic's `models_json_schema` with refs into `components/schemas`.
ADR 0001 says why this is ours and not a library.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final, Literal

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from chore_common.http.problem import PROBLEM_JSON

REF_TEMPLATE: Final = "#/components/schemas/{model}"
OPERATION_ATTR: Final = "__chore_operations__"
# Set by `chore_common.idempotency.middleware.idempotent` on the handlers it wraps.
IDEMPOTENT_ATTR: Final = "__chore_idempotent__"
IDEMPOTENCY_KEY_PARAM: Final[dict[str, Any]] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Retry safely: the same key and body within 24 h return the first "
    "response again (with `Idempotent-Replayed: true`); the same key with another body is "
    "422 `idempotency_key_reused`; while the first is still running, 409 "
    "`idempotency_in_progress`.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
}
_PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")

PROBLEM_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail", "code", "request_id"],
    "properties": {
        "type": {"type": "string", "format": "uri-reference"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "stable machine-readable reason"},
        "request_id": {"type": ["string", "null"]},
        "errors": {
            "type": "array",
            "description": "on 422: one entry per invalid field",
            "items": {
                "type": "object",
                "properties": {
                    "in": {"type": "string"},
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    summary: str
    tags: tuple[str, ...]
    auth: bool
    errors: tuple[int, ...]
    handler_name: str
    idempotent: bool = False


class ApiRoutes(web.RouteTableDef):
    """`web.RouteTableDef` whose decorators also declare the models for OpenAPI."""

    def _api(
        self,
        method: Method,
        path: str,
        *,
        body: type[BaseModel] | None,
        query: type[BaseModel] | None,
        response: type[BaseModel] | None,
        status: int,
        summary: str,
        tags: Sequence[str],
        auth: bool,
        errors: Sequence[int],
    ) -> Callable[[Handler], Handler]:
        register = self.route(method, path)

        def decorate(handler: Handler) -> Handler:
            op = Operation(
                method=method,
                path=path,
                body=body,
                query=query,
                response=response,
                status=status,
                summary=summary,
                tags=tuple(tags),
                auth=auth,
                errors=tuple(errors),
                handler_name=getattr(handler, "__name__", "handler"),
                idempotent=bool(getattr(handler, IDEMPOTENT_ATTR, False)),
            )
            ops: list[Operation] = getattr(handler, OPERATION_ATTR, [])
            setattr(handler, OPERATION_ATTR, [*ops, op])
            register(handler)
            return handler

        return decorate

    # One method per verb keeps call sites and type checking as plain as RouteTableDef's.
    def get(  # type: ignore[override]
        self,
        path: str,
        *,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        summary: str = "",
        tags: Sequence[str] = (),
        auth: bool = True,
        errors: Sequence[int] = (),
    ) -> Callable[[Handler], Handler]:
        return self._api(
            "GET", path, body=None, query=query, response=response, status=status,
            summary=summary, tags=tags, auth=auth, errors=errors,
        )  # fmt: skip

    def post(  # type: ignore[override]
        self,
        path: str,
        *,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        summary: str = "",
        tags: Sequence[str] = (),
        auth: bool = True,
        errors: Sequence[int] = (),
    ) -> Callable[[Handler], Handler]:
        return self._api(
            "POST", path, body=body, query=query, response=response, status=status,
            summary=summary, tags=tags, auth=auth, errors=errors,
        )  # fmt: skip

    def put(  # type: ignore[override]
        self,
        path: str,
        *,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        summary: str = "",
        tags: Sequence[str] = (),
        auth: bool = True,
        errors: Sequence[int] = (),
    ) -> Callable[[Handler], Handler]:
        return self._api(
            "PUT", path, body=body, query=query, response=response, status=status,
            summary=summary, tags=tags, auth=auth, errors=errors,
        )  # fmt: skip

    def patch(  # type: ignore[override]
        self,
        path: str,
        *,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        summary: str = "",
        tags: Sequence[str] = (),
        auth: bool = True,
        errors: Sequence[int] = (),
    ) -> Callable[[Handler], Handler]:
        return self._api(
            "PATCH", path, body=body, query=query, response=response, status=status,
            summary=summary, tags=tags, auth=auth, errors=errors,
        )  # fmt: skip

    def delete(  # type: ignore[override]
        self,
        path: str,
        *,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 204,
        summary: str = "",
        tags: Sequence[str] = (),
        auth: bool = True,
        errors: Sequence[int] = (),
    ) -> Callable[[Handler], Handler]:
        return self._api(
            "DELETE", path, body=body, query=query, response=response, status=status,
            summary=summary, tags=tags, auth=auth, errors=errors,
        )  # fmt: skip


class OpenApiDocument:
    """Builds the document for one app on first request, then serves it from memory."""

    def __init__(self, title: str, version: str) -> None:
        self.title = title
        self.version = version
        self._cached: dict[str, Any] | None = None

    def document(self, app: web.Application) -> dict[str, Any]:
        if self._cached is None:
            self._cached = build_document(self.title, self.version, mounted_operations(app))
        return self._cached


OPENAPI = web.AppKey("chore.openapi", OpenApiDocument)


def mounted_operations(app: web.Application) -> list[Operation]:
    """Operations of every route in `app`'s router, with the path it is mounted at."""
    found: list[Operation] = []
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        declared: list[Operation] = getattr(route.handler, OPERATION_ATTR, [])
        mine = [op for op in declared if op.method == route.method]
        if not mine:
            continue
        path = route.resource.canonical
        op = next((o for o in mine if o.path == path), mine[0])
        found.append(_with_path(op, path))
    return found


def _with_path(op: Operation, path: str) -> Operation:
    if op.path == path:
        return op
    return Operation(**{**op.__dict__, "path": path})


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": {"$ref": REF_TEMPLATE.format(model="Problem")}}},
    }


def build_document(title: str, version: str, operations: Iterable[Operation]) -> dict[str, Any]:
    ops = sorted(operations, key=lambda o: (o.path, o.method))
    key_map, defs = models_json_schema(_schema_models(ops), ref_template=REF_TEMPLATE)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    components = _Components(key_map, schemas)
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        spec = _operation_spec(op, components)
        paths.setdefault(_PATH_PARAM.sub(r"{\1}", op.path), {})[op.method.lower()] = spec
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def _schema_models(ops: Sequence[Operation]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for op in ops:
        for model in (op.body, op.query):
            if model is not None and (model, "validation") not in wanted:
                wanted.append((model, "validation"))
        if op.response is not None and (op.response, "serialization") not in wanted:
            wanted.append((op.response, "serialization"))
    return wanted


@dataclass(frozen=True)
class _Components:
    """The models' schemas of one document: a `$ref` to each, or the schema itself."""

    key_map: Mapping[tuple[Any, JsonSchemaMode], Mapping[str, Any]]
    schemas: dict[str, Any]

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(self.key_map[(model, mode)])

    def component(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        name = str(self.key_map[(model, mode)]["$ref"]).rsplit("/", 1)[-1]
        found: dict[str, Any] = self.schemas[name]
        return found


def _operation_spec(op: Operation, components: _Components) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "operationId": op.handler_name,
        "summary": op.summary or op.handler_name.replace("_", " "),
        "tags": list(op.tags),
        "security": [{"bearerAuth": []}] if op.auth else [],
    }
    params = _parameters(op, components)
    if params:
        spec["parameters"] = params
    if op.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": components.ref(op.body, "validation")}},
        }
    spec["responses"] = _responses(op, components)
    return spec


def _parameters(op: Operation, components: _Components) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(op.path)
    ]
    if op.query is not None:
        query_schema = components.component(op.query, "validation")
        required = set(query_schema.get("required", ()))
        for name, prop in query_schema.get("properties", {}).items():
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    if op.idempotent:
        params.append(dict(IDEMPOTENCY_KEY_PARAM))
    return params


def _responses(op: Operation, components: _Components) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": HTTPStatus(op.status).phrase}
    if op.response is not None:
        schema = components.ref(op.response, "serialization")
        ok["content"] = {"application/json": {"schema": schema}}
    responses: dict[str, Any] = {str(op.status): ok}
    implied: set[int] = set(op.errors)
    if op.body is not None:
        implied |= {400, 413, 415, 422}
    if op.query is not None:
        implied.add(422)
    if op.auth:
        implied.add(401)
    if op.idempotent:
        implied |= {400, 409, 422}
    for status in sorted(implied):
        responses[str(status)] = _problem_response(status)
    responses["default"] = {
        "description": "Unexpected error",
        "content": _problem_response(500)["content"],
    }
    return responses


async def openapi_handler(request: web.Request) -> web.Response:
    doc = request.app[OPENAPI].document(request.app)
    return web.json_response(doc)


def register_openapi(
    app: web.Application,
    routes: Iterable[web.AbstractRouteDef] = (),
    *,
    title: str = "service",
    version: str = "1.0.0",
) -> None:
    """Mount those of `routes` not mounted yet, and make sure `GET /openapi.json` exists.

    Idempotent, so `app.add_routes(routes)` followed by this is fine. `create_service_app`
    has already added the document route; for bare apps this does.
    """
    mounted = {
        (r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None
    }
    app.add_routes(
        d for d in routes if not (isinstance(d, web.RouteDef) and (d.method, d.path) in mounted)
    )
    if OPENAPI not in app:
        app[OPENAPI] = OpenApiDocument(title, version)
        app.router.add_get("/openapi.json", openapi_handler, allow_head=False)
