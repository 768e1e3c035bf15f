"""How a proxied WebSocket ends: which close code and reason each side is told.

Pure: the proxy reports how the first of its two directions ended, this decides the rest
(the table is in docs/gateway.md, "WebSocket").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

GOING_AWAY: Final = 1001
TOO_SLOW: Final = 1013  # "try again later"
BAD_GATEWAY: Final = 1014
NORMAL: Final = 1000
# Codes that may not appear in a close frame (RFC 6455 7.4.1), only be reported locally.
_UNSENDABLE: Final = frozenset({1005, 1006, 1015})


class End(Enum):
    """How one direction (source -> destination) ended."""

    CLOSED = "closed"  # the source sent a close frame
    SOURCE_LOST = "source_lost"  # the source went away without one
    DESTINATION_LOST = "destination_lost"  # a write to the destination failed: it went away
    STALLED = "stalled"  # the destination took nothing for the stall limit


@dataclass(frozen=True, slots=True)
class Ending:
    how: End
    code: int = 0  # with CLOSED: the source's close code and reason
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Closing:
    """The close frame each side gets."""

    client: tuple[int, str]
    upstream: tuple[int, str]
    cut_client: bool = False  # it does not read: cut its connection after the close frame


def sendable(code: int) -> int:
    """A code the other side may be sent; anything else passes on as a normal close."""
    return code if 1000 <= code < 5000 and code not in _UNSENDABLE else NORMAL


def closing_for(ending: Ending, *, from_upstream: bool) -> Closing:
    """Given the direction that ended first (upstream -> client or the reverse) and how."""
    how = ending.how
    if how is End.CLOSED:
        both = (sendable(ending.code), ending.reason)
        return Closing(client=both, upstream=both)
    if how is End.STALLED:
        return Closing(
            client=(TOO_SLOW, "too slow: the client is not reading"),
            upstream=(GOING_AWAY, "client too slow"),
            cut_client=True,
        )
    # The upstream is the side lost if it dropped while read from, or failed a write.
    if from_upstream == (how is End.SOURCE_LOST):
        return Closing(client=(BAD_GATEWAY, "upstream connection lost"), upstream=(GOING_AWAY, ""))
    return Closing(client=(GOING_AWAY, ""), upstream=(GOING_AWAY, "client went away"))
