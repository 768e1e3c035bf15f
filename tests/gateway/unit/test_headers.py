from __future__ import annotations

from multidict import CIMultiDict

from chore_gateway.domain import headers
from chore_gateway.domain.headers import downstream_response_headers, upstream_request_headers


def forward(raw: list[tuple[str, str]], **kw: object) -> CIMultiDict[str]:
    incoming = CIMultiDict(raw)
    args: dict[str, object] = {
        "request_id": "rid",
        "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01",
        "peer": "203.0.113.9",
        "client": "203.0.113.9",
        "peer_trusted": False,
        "proto": "http",
        "host": "gw.example:8080",
    }
    args.update(kw)
    return CIMultiDict(upstream_request_headers(incoming, incoming.items(), **args))  # type: ignore[arg-type]


def test_hop_by_hop_and_connection_named_headers_stay_behind() -> None:
    out = forward(
        [
            ("Connection", "keep-alive, X-Hop"),
            ("X-Hop", "1"),
            ("Keep-Alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "h2c"),
            ("Proxy-Authorization", "Basic x"),
            ("Host", "gw.example:8080"),
            ("Content-Length", "3"),
            ("Cookie", "a=1"),
            ("Cookie", "b=2"),
            ("Authorization", "Bearer t"),
        ]
    )
    for gone in ("Connection", "X-Hop", "Keep-Alive", "Transfer-Encoding", "Upgrade",
                 "Proxy-Authorization", "Host", "Content-Length"):  # fmt: skip
        assert gone not in out
    assert out.getall("Cookie") == ["a=1", "b=2"]
    assert out["Authorization"] == "Bearer t"


def test_the_gateway_sets_ids_trace_and_forwarded_headers() -> None:
    out = forward(
        [
            ("X-Request-ID", "client"),
            ("traceparent", "00-old"),
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Real-IP", "6.6.6.6"),
        ]
    )
    assert out.getall("X-Request-ID") == ["rid"]
    assert out.getall("X-Real-IP") == ["203.0.113.9"]  # the gateway's verdict, always
    assert out.getall("traceparent") == ["00-" + "1" * 32 + "-" + "2" * 16 + "-01"]
    assert out.getall("X-Forwarded-For") == ["203.0.113.9"]  # untrusted chain replaced
    assert out["X-Forwarded-Proto"] == "http"
    assert out["X-Forwarded-Host"] == "gw.example:8080"


def test_a_trusted_chain_is_extended() -> None:
    out = forward(
        [("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-Proto", "https")],
        peer_trusted=True,
        client="198.51.100.1",
    )
    assert out["X-Forwarded-For"] == "198.51.100.1, 203.0.113.9"
    assert out["X-Real-IP"] == "198.51.100.1"
    assert out["X-Forwarded-Proto"] == "https"


def test_websocket_handshake_headers_are_redone_by_each_side() -> None:
    out = forward(
        [
            ("Sec-WebSocket-Key", "k"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Protocol", "bearer, jwt"),
            ("Origin", "http://app"),
        ],
        websocket=True,
    )
    assert "Sec-WebSocket-Key" not in out
    assert "Sec-WebSocket-Protocol" not in out
    assert out["Origin"] == "http://app"


def test_response_headers_keep_repeats_and_drop_framing() -> None:
    out = downstream_response_headers(
        [
            ("Content-Length", "10"),
            ("Transfer-Encoding", "chunked"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("Content-Type", "application/json"),
            ("X-Private-Hop", "1"),
            ("Date", "Thu, 03 Dec 2026 16:00:00 GMT"),
            ("Server", "Python/3.11 aiohttp/3.14.5"),
        ],
        "X-Private-Hop",
    )
    assert out == [
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Content-Type", "application/json"),
        ("Date", "Thu, 03 Dec 2026 16:00:00 GMT"),  # when the upstream answered
    ]


def test_the_verdict_tables_stay_bounded_under_unique_names_and_values() -> None:
    """Every table keyed by what clients write is bounded in entries and entry size."""
    for i in range(5000):
        name = f"X-Made-Up-{i}"
        forward([(name, "1"), ("Connection", f"keep-alive, {name}")])
        forward([(f"X-{'y' * 500}-{i}", "1"), ("Connection", f"close, {'z' * 300}{i}")])
        downstream_response_headers([(name, "1")], f"X-Hop-{i}")
    sizes = headers.cache_sizes()
    assert sizes["main_names"] <= 3 * 1024
    assert sizes["connection_tables"] <= 64
    assert sizes["connection_names"] <= 64 * 128
    assert sizes["longest_name"] <= 64
    assert sizes["longest_connection"] <= 128


def test_a_header_named_by_a_long_connection_value_stays_behind() -> None:
    long_value = "keep-alive, " + ", ".join(f"X-H{i}" for i in range(100))
    out = forward([("Connection", long_value), ("X-H7", "secret"), ("X-Other", "ok")])
    assert "X-H7" not in out
    assert out["X-Other"] == "ok"
