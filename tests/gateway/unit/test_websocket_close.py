"""Which close code each side of a proxied WebSocket gets, by how the first direction ended."""

from __future__ import annotations

import pytest

from chore_gateway.domain.websocket_close import Closing, End, Ending, closing_for


@pytest.mark.parametrize("from_upstream", [True, False])
def test_a_close_frame_passes_its_code_and_reason_to_both_sides(from_upstream: bool) -> None:
    closing = closing_for(
        Ending(End.CLOSED, 1008, "rate limit exceeded"), from_upstream=from_upstream
    )
    assert closing == Closing(
        client=(1008, "rate limit exceeded"), upstream=(1008, "rate limit exceeded")
    )


@pytest.mark.parametrize("code", [0, 999, 1005, 1006, 1015, 5000])
def test_a_code_no_close_frame_may_carry_passes_on_as_a_normal_close(code: int) -> None:
    closing = closing_for(Ending(End.CLOSED, code, ""), from_upstream=True)
    assert closing.client == (1000, "")


def test_an_upstream_lost_gives_the_client_bad_gateway() -> None:
    dropped = closing_for(Ending(End.SOURCE_LOST), from_upstream=True)
    unwritable = closing_for(Ending(End.DESTINATION_LOST), from_upstream=False)
    assert dropped.client == unwritable.client == (1014, "upstream connection lost")
    assert not dropped.cut_client


def test_a_client_lost_gives_the_upstream_going_away() -> None:
    dropped = closing_for(Ending(End.SOURCE_LOST), from_upstream=False)
    unwritable = closing_for(Ending(End.DESTINATION_LOST), from_upstream=True)
    assert dropped.upstream == unwritable.upstream == (1001, "client went away")


def test_a_client_that_does_not_read_is_told_1013_and_cut() -> None:
    closing = closing_for(Ending(End.STALLED), from_upstream=True)
    assert closing.client == (1013, "too slow: the client is not reading")
    assert closing.upstream == (1001, "client too slow")
    assert closing.cut_client
