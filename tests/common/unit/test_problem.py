"""The one table from domain errors to problem+json, checked without a server."""

from __future__ import annotations

import json

import pytest

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
from chore_common.http.problem import STATUS, from_exception


class InvalidTransition(Conflict):
    code = "invalid_transition"


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
