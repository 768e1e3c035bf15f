"""The one table from domain errors to problem+json, checked without a server."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import exc as sa_exc

from chore_common.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from chore_common.http.problem import (
    STATUS,
    ClientDisconnected,
    database_unreachable,
    from_exception,
)


class InvalidTransition(Conflict):
    code = "invalid_transition"


class _DriverDataError(ValueError):
    """Shaped like asyncpg's client-side DataError: a driver error that is a ValueError."""


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (NotFound(), 404), (Conflict(), 409), (Forbidden(), 403), (Unauthorized(), 401),
        (PreconditionFailed(), 412), (InvalidInput(), 422), (RateLimited(retry_after=3), 429),
        (Unavailable(), 503), (InvalidTransition("Task is done."), 409),
    ],
)  # fmt: skip
def test_each_domain_error_has_its_status(exc: DomainError, status: int) -> None:
    response = from_exception(exc, "rid")
    assert response.status == status
    assert response.content_type == "application/problem+json"
    assert isinstance(response.body, bytes)
    body = json.loads(response.body)
    assert body["code"] == exc.code
    assert body["type"] == f"https://chore.dev/problems/{exc.code}"
    assert body["request_id"] == "rid"


def test_the_table_covers_every_error_class() -> None:
    assert set(STATUS) == {cls for cls in DomainError.__subclasses__()}


def test_an_unmapped_domain_error_is_a_plain_500() -> None:
    response = from_exception(DomainError("internal detail"), "rid")
    assert response.status == 500
    assert isinstance(response.body, bytes)
    assert b"internal detail" not in response.body


def test_a_client_that_went_away_is_a_499_not_a_5xx() -> None:
    response = from_exception(ClientDisconnected(), "rid")
    assert response.status == 499


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (ConnectionRefusedError(111, "refused"), 503),
        (sa_exc.InterfaceError("SELECT 1", {}, ConnectionResetError("lost")), 503),
        (sa_exc.TimeoutError("pool"), 503),
        # asyncpg's "invalid input for query argument" is an InterfaceError and a ValueError:
        # a value we sent (a validation gap, our bug), not the database being down.
        (sa_exc.InterfaceError("SELECT 1", {}, _DriverDataError("out of int64 range")), 500),
        (sa_exc.DBAPIError("SELECT 1", {}, ValueError("date value out of range")), 500),
    ],
)
def test_only_the_database_being_down_or_busy_is_a_503(exc: Exception, status: int) -> None:
    assert from_exception(exc, "rid").status == status
    assert (database_unreachable(exc) is not None) == (status == 503)
