"""The request field types refuse, with a 422-style validation error of their own, every
value a database cannot store, and keep every value it can exactly as sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, Field, ValidationError

from chore_common.http.fields import INT64_MAX, Instant, Int64, Name, Seq, Text

BEHIND = timezone(-timedelta(hours=23, minutes=59))
AHEAD = timezone(timedelta(hours=23, minutes=59))


class Body(BaseModel):
    text: Text = ""
    name: Name = Field("x", max_length=20)
    when: Instant | None = None
    seq: Seq = 0
    amount: Int64 = 0


def error_type(**fields: object) -> str:
    with pytest.raises(ValidationError) as err:
        Body.model_validate(fields)
    (only,) = err.value.errors()
    return str(only["type"])


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"text": "a\x00b"}, "text_nul"),
        ({"text": "lone \ud800 surrogate"}, "text_surrogate"),
        ({"name": "   \t"}, "text_blank"),
        ({"name": "\x00"}, "text_nul"),
        ({"when": "2030-01-01T00:00:00"}, "timezone_aware"),
        ({"when": "9999-12-31T23:59:59-23:59"}, "instant_range"),
        ({"when": "1970-01-01T00:00:00+00:01"}, "instant_range"),
        ({"when": "0001-01-01T00:00:00+23:59"}, "instant_range"),
        ({"seq": 2**63}, "less_than_equal"),
        ({"seq": -1}, "greater_than_equal"),
        ({"amount": -(2**63) - 1}, "greater_than_equal"),
        ({"amount": 2**70}, "less_than_equal"),
    ],
)
def test_a_value_no_database_can_store_is_refused_with_a_reason(
    fields: dict[str, object], kind: str
) -> None:
    assert error_type(**fields) == kind


def test_values_a_database_stores_pass_unchanged() -> None:
    edge = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    body = Body.model_validate(
        {
            "text": "café ☕ \U0001f9f9 tab\there",
            "name": " Ann ",
            "when": datetime(9999, 12, 31, 23, 59, 59, tzinfo=AHEAD),
            "seq": INT64_MAX,
            "amount": -(2**63),
        }
    )
    assert body.text == "café ☕ \U0001f9f9 tab\there"
    assert body.name == " Ann "  # trimming is the domain's business; blankness is refused
    assert body.when is not None
    assert body.when.utcoffset() == timedelta(hours=23, minutes=59)  # kept as sent
    assert Body.model_validate({"when": edge}).when == edge
    assert Body.model_validate({"when": "1970-01-01T00:00:00Z"}).when is not None


def test_the_errors_never_echo_the_value() -> None:
    with pytest.raises(ValidationError) as err:
        Body.model_validate({"text": "secret\x00password"})
    assert "secret" not in str(err.value.errors(include_input=False))
