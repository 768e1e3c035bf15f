"""Cursors are opaque round-trips; anything tampered with is a clean 422-class error."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from chore_common.errors import InvalidInput
from chore_common.http.pagination import (
    MAX_CURSOR_CHARS,
    Page,
    PageQuery,
    decode_cursor,
    decode_keyset,
    encode_cursor,
    encode_keyset,
)
from chore_common.paging import PageKey


def test_a_cursor_round_trips_and_is_url_safe() -> None:
    position = {"created_at": "2026-01-01T00:00:00Z", "id": "a/b+c"}
    cursor = encode_cursor(position)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_cursor(cursor) == position


@pytest.mark.parametrize(
    "bad", ["%%%", "bm90IGpzb24", encode_cursor({}) + "!", "WzEsMl0", "x" * 2000]
)
def test_a_tampered_cursor_is_invalid_input(bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        decode_cursor(bad)
    assert err.value.code == "invalid_cursor"


def test_page_query_defaults_to_20_and_bounds_the_limit() -> None:
    assert PageQuery().limit == 20
    assert PageQuery.model_validate({"limit": "100"}).limit == 100
    for bad in ("0", "101"):
        with pytest.raises(ValidationError):
            PageQuery.model_validate({"limit": bad})


def test_a_page_serialises_as_items_and_next_cursor() -> None:
    assert Page[int](items=[1, 2]).model_dump() == {"items": [1, 2], "next_cursor": None}


def test_a_keyset_round_trips_in_utc_order() -> None:
    moment = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    row_id = uuid4()
    assert decode_keyset(encode_keyset(moment, row_id)) == PageKey(moment, row_id)


@pytest.mark.parametrize(
    "position",
    [
        {"t": "2030-01-01T00:00:00", "i": str(UUID(int=1))},  # naive
        {"t": "9999-12-31T23:59:59-23:59", "i": str(UUID(int=1))},  # year 10000 in UTC
        {"t": "0001-01-01T00:00:00+23:59", "i": str(UUID(int=1))},  # before year 1 in UTC
        {"t": "1969-12-31T23:59:59Z", "i": str(UUID(int=1))},
        {"t": "yesterday", "i": str(UUID(int=1))},
        {"t": "2030-01-01T00:00:00Z", "i": "not-a-uuid"},
        {"t": 1893456000, "i": str(UUID(int=1))},
        {"t": "2030-01-01T00:00:00Z"},
        {"created_at": "2030-01-01T00:00:00Z", "id": str(UUID(int=1))},
    ],
)
def test_a_keyset_a_client_wrote_is_an_invalid_cursor(position: dict[str, object]) -> None:
    with pytest.raises(InvalidInput) as err:
        decode_keyset(encode_cursor(position))
    assert err.value.code == "invalid_cursor"


@pytest.mark.parametrize("bad", ["%%%", "W10", "A" * 5000, "\x00", "\ud800"])
def test_garbage_and_huge_cursors_are_invalid_cursors_too(bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        decode_keyset(bad)
    assert err.value.code == "invalid_cursor"


def test_a_huge_cursor_reaches_the_decoder_and_the_schema_still_shows_the_bound() -> None:
    # So it is answered `invalid_cursor`, like any other cursor we did not issue.
    assert PageQuery.model_validate({"cursor": "A" * 5000}).cursor == "A" * 5000
    schema = PageQuery.model_json_schema()["properties"]["cursor"]
    assert schema["anyOf"][0]["maxLength"] == MAX_CURSOR_CHARS
