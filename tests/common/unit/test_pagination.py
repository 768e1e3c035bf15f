"""Cursors are opaque round-trips; anything tampered with is a clean 422-class error."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chore_common.errors import InvalidInput
from chore_common.http.pagination import Page, PageQuery, decode_cursor, encode_cursor


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
