from __future__ import annotations

import pytest

from chore_gateway.domain.cors import CorsPolicy, canonical_origin, vary_with_origin

APP = "https://app.example.com"


def policy() -> CorsPolicy:
    return CorsPolicy(
        [APP, "http://localhost:5173"],
        methods=["GET", "POST"],
        headers=["Authorization", "Content-Type", "Idempotency-Key"],
        max_age_s=600,
    )


def test_origins_are_compared_as_browsers_write_them() -> None:
    assert canonical_origin("HTTPS://App.Example.com:443/") == APP
    assert canonical_origin("http://[::1]:8080") == "http://[::1]:8080"
    for bad in ("*", "null", "ftp://x", "https://x/path", "https://u@x", "app.example.com"):
        with pytest.raises(ValueError, match="origin"):
            canonical_origin(bad)


def test_an_allowed_origin_gets_its_own_origin_and_the_exposed_headers() -> None:
    headers = dict(policy().response_headers(APP))
    assert headers["Access-Control-Allow-Origin"] == APP
    exposed = {h.strip() for h in headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "Location", "X-Request-ID", "RateLimit", "RateLimit-Policy"} <= exposed
    assert "Access-Control-Allow-Credentials" not in headers


def test_a_refused_origin_or_none_gets_nothing() -> None:
    assert policy().response_headers("https://evil.example") == ()
    assert policy().response_headers(None) == ()
    assert policy().response_headers("null") == ()


def test_a_preflight_is_answered_with_the_lists_or_refused_with_a_reason() -> None:
    ok = policy().preflight(APP, "POST", "content-type, idempotency-key, Authorization")
    assert not ok.refused
    headers = dict(ok.headers)
    assert headers["Access-Control-Allow-Origin"] == APP
    assert headers["Access-Control-Allow-Methods"] == "GET, POST"
    assert headers["Access-Control-Max-Age"] == "600"
    assert "idempotency-key" in headers["Access-Control-Allow-Headers"]
    assert "Origin" in headers["Vary"]
    assert "origin" in policy().preflight("https://evil.example", "GET", None).refused
    assert "method" in policy().preflight(APP, "DELETE", None).refused
    assert "x-secret" in policy().preflight(APP, "GET", "x-secret").refused
    # Safelisted names are fine whether listed or not.
    assert not policy().preflight(APP, "GET", "accept, accept-language").refused


def test_websocket_origin_allow_list_same_origin_and_non_browsers() -> None:
    cors = policy()
    assert cors.websocket_allowed(APP, "gateway.example.com")
    assert cors.websocket_allowed(None, "gateway.example.com")  # not a browser
    assert not cors.websocket_allowed("https://evil.example", "gateway.example.com")
    assert cors.websocket_allowed("https://gateway.example.com", "gateway.example.com")
    assert cors.websocket_allowed("http://127.0.0.1:8080", "127.0.0.1:8080")
    assert not cors.websocket_allowed("not an origin", "127.0.0.1:8080")


def test_vary_gains_origin_once() -> None:
    assert vary_with_origin(None) == "Origin"
    assert vary_with_origin("Accept-Encoding") == "Accept-Encoding, Origin"
    assert vary_with_origin("origin, Accept") == "origin, Accept"
    assert vary_with_origin("*") == "*"
