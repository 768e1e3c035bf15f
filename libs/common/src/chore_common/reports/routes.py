"""The admins' queue of a service's reports over HTTP: list, dismiss, resolve.

```python
admin_routes = admin_report_routes(
    "/tasks/admin/reports",
    reports="Reports of tasks and offers",      # for the docs
    report="report",
    not_found=ReportNotFound,
    query=ReportQuery, out=ReportOut, page=ReportPage,
    unit_of_work=lambda request: request.app[UOW](),
    caller=actor,                               # who asks, as the use cases take it
    list_reports=reports.list_reports,
    close_report=reports.close_report,
)
```

`GET {path}` lists open (`?state=closed`: answered) reports oldest first; `POST
{path}/{report_id}/dismiss` and `.../resolve` answer one with a note. Each is gated to
admins here, and the service's use cases check the caller again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal, Protocol, TypeVar, cast
from uuid import UUID

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, Field

from chore_common.auth.principal import requires
from chore_common.clock import utcnow
from chore_common.errors import NotFound
from chore_common.http.fields import Text
from chore_common.http.openapi import ApiRoutes
from chore_common.http.pagination import next_cursor, page_key
from chore_common.http.requests import path_id
from chore_common.http.validation import (
    OutModel,
    StrictModel,
    json_response,
    parse_body,
    parse_query,
)
from chore_common.paging import Page, PageKey
from chore_common.reports.rules import NOTE_MAX, ReportAction

U = TypeVar("U")
C = TypeVar("C")
R = TypeVar("R")
U_contra = TypeVar("U_contra", contravariant=True)
C_contra = TypeVar("C_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)

TAGS = ("admin",)


class ReportNoteIn(StrictModel):
    note: Text = Field(min_length=1, max_length=NOTE_MAX, description="what was found or done")


class QueueQuery(Protocol):
    """The fields of a service's query model for the queue (its own, for its parameters'
    order in the docs and in 422 errors)."""

    @property
    def state(self) -> Literal["open", "closed"]: ...
    @property
    def limit(self) -> int: ...
    @property
    def cursor(self) -> str | None: ...


class ListReports(Protocol[U_contra, C_contra, R]):
    def __call__(
        self, uow: U_contra, caller: C_contra, /, *, closed: bool, limit: int, after: PageKey | None
    ) -> Awaitable[Page[R]]: ...


class CloseReport(Protocol[U_contra, C_contra, R_co]):
    def __call__(
        self,
        uow: U_contra,
        caller: C_contra,
        report_id: UUID,
        action: ReportAction,
        /,
        *,
        note: str,
        now: datetime,
    ) -> Awaitable[R_co]: ...


def admin_report_routes(
    path: str,
    *,
    reports: str,
    report: str,
    not_found: type[NotFound],
    query: type[BaseModel],
    out: type[OutModel],
    page: type[BaseModel],
    unit_of_work: Callable[[web.Request], U],
    caller: Callable[[web.Request], C],
    list_reports: ListReports[U, C, R],
    close_report: CloseReport[U, C, R],
) -> ApiRoutes:
    """The queue's three routes under `path`. `query` has `state`, `limit` and `cursor`;
    `page` has `items` and `next_cursor`; `reports` and `report` name them in the docs."""

    async def listed(request: web.Request) -> web.Response:
        asked = cast(QueueQuery, parse_query(request, query))
        found = await list_reports(
            unit_of_work(request),
            caller(request),
            closed=asked.state == "closed",
            limit=asked.limit,
            after=page_key(asked.cursor),
        )
        items = [out.of(r) for r in found.items]
        return json_response(page(items=items, next_cursor=next_cursor(found.next_key)))

    def closing(action: ReportAction) -> Handler:
        async def close(request: web.Request) -> web.Response:
            report_id = path_id(request, "report_id", not_found)
            body = await parse_body(request, ReportNoteIn)
            closed = await close_report(
                unit_of_work(request), caller(request), report_id, action,
                note=body.note, now=utcnow(),
            )  # fmt: skip
            return json_response(out.of(closed))

        close.__name__ = f"{action.value}_report"
        return close

    # The handlers' names are the operationIds in the docs, as when each service had its own.
    listed.__name__ = "list_reports"
    routes = ApiRoutes()
    routes.get(
        path, query=query, response=page, tags=TAGS, errors=(403,),
        summary=f"{reports}, oldest first: open ones (the default) or answered ones (admins)",
    )(requires("admin")(listed))  # fmt: skip
    for action, summary in (
        (ReportAction.DISMISS, f"Dismiss an open {report} (nothing wrong), with a note (admins)"),
        (ReportAction.RESOLVE, f"Resolve an open {report} (acted on), with a note (admins)"),
    ):
        routes.post(
            f"{path}/{{report_id}}/{action.value}", body=ReportNoteIn, response=out, tags=TAGS,
            summary=summary, errors=(403, 404, 409),
        )(requires("admin")(closing(action)))  # fmt: skip
    return routes
