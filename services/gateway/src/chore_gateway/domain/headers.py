"""Which headers cross the gateway, and the ones it adds.

Hop-by-hop headers (RFC 9110 7.6.1) describe one connection and are never forwarded, nor
is any header the `Connection` header names. `Host` is the upstream's; the client's goes on
as `X-Forwarded-Host`. The client's `traceparent` is replaced by the gateway's CLIENT span
for the upstream call (a child of the caller's span; proxy.py starts it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Not forwarded upstream: hop-by-hop, plus what the gateway sets itself.
_DROP_REQUEST: Final = HOP_BY_HOP | {
    "host",
    "content-length",  # the client library sets it from the body it sends
    "expect",  # 100-continue was answered (or not) by the gateway's own server
    "x-request-id",
    "traceparent",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
}
# The upstream's `Date` stays: it is when the answer was made (RFC 9110 6.6.1), and the
# gateway need not format one per response. `Server` becomes the gateway's own.
_DROP_RESPONSE: Final = HOP_BY_HOP | {"content-length", "server"}
# A WebSocket handshake is redone by each side: its own keys and protocol headers stay home.
_DROP_WEBSOCKET: Final = _DROP_REQUEST | {
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
    "sec-websocket-accept",
}


# The verdict tables below are keyed by names and values clients choose, so each is bounded
# in entries and in entry size, and starts afresh when full: a flood of made-up names costs
# the gateway a lower() per header, never memory.
_TABLE_MAX: Final = 1024  # names kept per table
_NAME_MAX: Final = 64  # a longer name is judged every time, never kept
_CONNECTION_TABLES_MAX: Final = 64  # tables kept for distinct `Connection` values
_CONNECTION_TABLE_NAMES: Final = 128  # names kept in each of those
_CONNECTION_MAX: Final = 128  # a longer `Connection` value gets a table of its own, not kept


class _Verdicts(dict[str, bool]):
    """Header name (as spelled) -> forwarded?, learned on first sight: a dict hit is cheaper
    than lower-casing every name of every message. Bounded, since clients choose names."""

    __slots__ = ("drop", "limit")

    def __init__(self, drop: frozenset[str], limit: int = _TABLE_MAX) -> None:
        super().__init__()
        self.drop = drop
        self.limit = limit

    def __missing__(self, name: str) -> bool:
        keep = name.lower() not in self.drop
        if len(name) <= _NAME_MAX:
            if len(self) >= self.limit:
                self.clear()  # common names are learned again at once
            self[name] = keep
        return keep


class _Uncached:
    """The verdicts for a one-off `Connection` value: judged per name, nothing kept."""

    __slots__ = ("drop",)

    def __init__(self, drop: frozenset[str]) -> None:
        self.drop = drop

    def __getitem__(self, name: str) -> bool:
        return name.lower() not in self.drop


_KEEP_REQUEST: Final = _Verdicts(_DROP_REQUEST)
_KEEP_WEBSOCKET: Final = _Verdicts(_DROP_WEBSOCKET)
_KEEP_RESPONSE: Final = _Verdicts(_DROP_RESPONSE)
# A message with a `Connection` header drops the headers it names too: a table per value
# (nearly always "keep-alive", "close" or "Upgrade").
_with_connection: dict[tuple[frozenset[str], str], _Verdicts] = {}


def _keep(table: _Verdicts, connection: str | None) -> _Verdicts | _Uncached:
    """`table`, or when `connection` names headers (usually just "keep-alive"), the table
    that drops them as well."""
    if not connection:
        return table
    drop = table.drop
    if len(connection) > _CONNECTION_MAX:
        return _Uncached(drop | _named(connection))
    key = (drop, connection)
    found = _with_connection.get(key)
    if found is None:
        found = _Verdicts(drop | _named(connection), _CONNECTION_TABLE_NAMES)
        if len(_with_connection) >= _CONNECTION_TABLES_MAX:
            _with_connection.clear()
        _with_connection[key] = found
    return found


def _named(connection: str) -> frozenset[str]:
    return frozenset(t.strip().lower() for t in connection.split(","))


def cache_sizes() -> dict[str, int]:
    """What the verdict tables hold (for the tests that flood them)."""
    tables = [_KEEP_REQUEST, _KEEP_WEBSOCKET, _KEEP_RESPONSE, *_with_connection.values()]
    return {
        "main_names": len(_KEEP_REQUEST) + len(_KEEP_WEBSOCKET) + len(_KEEP_RESPONSE),
        "connection_tables": len(_with_connection),
        "connection_names": sum(len(t) for t in _with_connection.values()),
        "longest_name": max((len(name) for table in tables for name in table), default=0),
        "longest_connection": max((len(value) for _, value in _with_connection), default=0),
    }


def upstream_request_headers(
    incoming: Mapping[str, str],
    items: Iterable[tuple[str, str]],
    *,
    request_id: str,
    traceparent: str | None,
    peer: str | None,
    client: str,
    peer_trusted: bool,
    proto: str,
    host: str | None,
    websocket: bool = False,
) -> list[tuple[str, str]]:
    """The headers to send upstream, as a list (repeated headers such as Cookie survive).

    `incoming` answers lookups; `items` is every (name, value) pair of the same headers.
    `X-Real-IP` is always the `client` the gateway decided on (domain/clients.py), whatever
    the client sent. When the peer is a trusted proxy its X-Forwarded-* headers are kept and
    the chain extended; otherwise they are replaced by what the gateway saw.
    """
    keep = _keep(_KEEP_WEBSOCKET if websocket else _KEEP_REQUEST, incoming.get("Connection"))
    out = [item for item in items if keep[item[0]]]
    out.append(("X-Request-ID", request_id))
    if traceparent:
        out.append(("traceparent", traceparent))
    out.append(("X-Real-IP", client))
    forwarded_for = peer or ""
    if peer_trusted:
        prior = incoming.get("X-Forwarded-For")
        if prior:
            forwarded_for = f"{prior}, {forwarded_for}" if forwarded_for else prior
        proto = incoming.get("X-Forwarded-Proto") or proto
        host = incoming.get("X-Forwarded-Host") or host
    if forwarded_for:
        out.append(("X-Forwarded-For", forwarded_for))
    out.append(("X-Forwarded-Proto", proto))
    if host:
        out.append(("X-Forwarded-Host", host))
    return out


def downstream_response_headers(
    items: Iterable[tuple[str, str]], connection: str | None = None
) -> list[tuple[str, str]]:
    """The upstream response's headers the client gets (the gateway frames the body itself)."""
    keep = _keep(_KEEP_RESPONSE, connection)
    return [item for item in items if keep[item[0]]]
