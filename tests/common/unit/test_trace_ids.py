"""The ids-only span: W3C `traceparent` in and out, and what becomes current."""

from __future__ import annotations

import re

import pytest

from chore_common.observability import tracing

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def test_a_valid_traceparent_gives_the_callers_ids() -> None:
    assert tracing.parse_traceparent(f"00-{TRACE}-{PARENT}-01") == (TRACE, PARENT, "01")
    assert tracing.parse_traceparent(f" 00-{TRACE}-{PARENT}-00 ") == (TRACE, PARENT, "00")


def test_a_later_version_may_carry_more_fields() -> None:
    assert tracing.parse_traceparent(f"01-{TRACE}-{PARENT}-01-extra") == (TRACE, PARENT, "01")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        f"00-{TRACE}-{PARENT}-01-extra",  # version 00 has exactly four fields
        f"ff-{TRACE}-{PARENT}-01",  # version ff is forbidden
        f"00-{'0' * 32}-{PARENT}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"00-{TRACE.upper()}-{PARENT}-01",  # hex is lower case
        f"00-{TRACE[:-1]}-{PARENT}-01",
    ],
)
def test_a_malformed_traceparent_is_ignored(header: str | None) -> None:
    assert tracing.parse_traceparent(header) is None


def test_new_ids_continue_the_callers_trace_with_a_new_span() -> None:
    trace_id, span_id, flags = tracing.new_ids((TRACE, PARENT, "00"))
    assert (trace_id, flags) == (TRACE, "00")
    assert span_id != PARENT
    assert len(span_id) == 16
    assert int(span_id, 16) > 0


def test_server_ids_continue_a_valid_traceparent_and_replace_a_bad_one() -> None:
    assert tracing.server_ids(f"00-{TRACE}-{PARENT}-01")[0] == TRACE
    for header in (None, "garbage"):
        trace_id, span_id, flags = tracing.server_ids(header)
        assert trace_id != TRACE
        assert (len(trace_id), len(span_id), flags) == (32, 16, "01")


def test_an_incoming_request_gets_a_request_id_and_ids_from_one_draw() -> None:
    seen: set[str] = set()
    for _ in range(200):
        request_id, (trace_id, span_id, flags) = tracing.server_ids_and_request_id(None)
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)
        assert re.fullmatch(r"[0-9a-f]{32}", trace_id)
        assert int(trace_id, 16) > 0
        assert re.fullmatch(r"[0-9a-f]{16}", span_id)
        assert int(span_id, 16) > 0
        assert flags == "01"
        assert request_id != trace_id
        seen |= {request_id, trace_id, span_id}
    assert len(seen) == 600  # no id repeats, within a request or across them

    request_id, ids = tracing.server_ids_and_request_id(f"00-{TRACE}-{PARENT}-00")
    assert (ids[0], ids[2]) == (TRACE, "00")  # the caller's trace and flags
    assert ids[1] != PARENT
    assert len(ids[1]) == 16
    assert len(request_id) == 32
    assert tracing.server_ids_and_request_id("garbage")[1][0] != TRACE


def test_new_ids_without_a_caller_start_a_sampled_trace() -> None:
    first, second = tracing.new_ids(None), tracing.new_ids(None)
    assert first[0] != second[0]
    assert len(first[0]) == 32
    assert first[2] == "01"
    assert tracing.parse_traceparent(tracing.traceparent(first)) == first


def test_set_ids_are_current_and_injected_until_reset() -> None:
    ids = tracing.new_ids(None)
    token = tracing.CURRENT_IDS.set(ids)
    try:
        assert tracing.current_ids() == ids
        headers: dict[str, str] = {}
        tracing.inject(headers)
        assert headers == {"traceparent": f"00-{ids[0]}-{ids[1]}-01"}
    finally:
        tracing.CURRENT_IDS.reset(token)
    assert tracing.current_ids() is None  # no span anywhere in a bare test
    headers = {}
    tracing.inject(headers)
    assert "traceparent" not in headers


def test_random_hex_is_lower_case_hex_of_the_asked_size_and_never_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", tracing.random_hex(16))
    assert re.fullmatch(r"[0-9a-f]{16}", tracing.random_hex(8))
    monkeypatch.setattr(tracing.random, "getrandbits", lambda bits: 0)
    assert tracing.random_hex(8) == "0000000000000001"  # an all-zero id is invalid (W3C)
