"""Which browser origins may call the gateway (CORS, the Fetch standard's protocol).

Pure decisions, no I/O: the adapters (adapters/cors.py) ask this policy and write what it
says. Credentials are never allowed (no `Access-Control-Allow-Credentials`): clients send
a bearer token in `Authorization`, which a preflight can allow, and no cookie is ever
needed, so a page of an allowed origin cannot ride on a user's ambient credentials.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

# Answers a browser script may read besides the CORS-safelisted ones (Cache-Control,
# Content-Language, Content-Length, Content-Type, Expires, Last-Modified, Pragma).
EXPOSED: Final = (
    "ETag",
    "Location",
    "X-Request-ID",
    "Retry-After",
    "RateLimit",
    "RateLimit-Policy",
)
# Request headers a browser never names in Access-Control-Request-Headers unless their value
# is unusual, and that are harmless either way: always allowed.
_SAFELISTED: Final = frozenset({"accept", "accept-language", "content-language", "content-type"})
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
MAX_ORIGIN_CHARS: Final = 256  # longer Origin values are refused without parsing


def canonical_origin(origin: str) -> str:
    """`scheme://host[:port]` as browsers serialise it (RFC 6454 6.1): lower case, no
    default port, no path. ValueError for anything that is not such an origin."""
    parts = urlsplit(origin.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{origin!r}: an origin is http(s)://host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{origin!r}: an origin has no path, query, fragment or user")
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True, slots=True)
class Preflight:
    """The gateway's answer to a preflight: `headers` to send with 204, or `refused` (a
    sentence for the 403 problem, no CORS headers)."""

    headers: tuple[tuple[str, str], ...] = ()
    refused: str = ""


class CorsPolicy:
    """An allow-list of origins, and what the gateway says to each.

    An origin not on the list gets no CORS header at all: the browser then keeps the answer
    from the page (CORS protects the user's browser, it is not access control: the request
    itself is still served, as it would be from curl).
    """

    __slots__ = ("_allowed", "_exposed", "_preflight", "headers", "max_age_s", "methods")

    def __init__(
        self,
        origins: Iterable[str],
        *,
        methods: Iterable[str],
        headers: Iterable[str],
        max_age_s: int,
    ) -> None:
        self._allowed = frozenset(canonical_origin(o) for o in origins)
        self.methods = tuple(m.upper() for m in methods)
        self.headers = frozenset(h.strip().lower() for h in headers)
        self.max_age_s = max_age_s
        exposed = ("Access-Control-Expose-Headers", ", ".join(EXPOSED))
        # Built once per origin: an allowed simple request costs a dict lookup.
        self._exposed = {
            o: (("Access-Control-Allow-Origin", o), exposed) for o in sorted(self._allowed)
        }
        self._preflight = (
            ("Access-Control-Allow-Methods", ", ".join(self.methods)),
            ("Access-Control-Allow-Headers", ", ".join(sorted(self.headers))),
            ("Access-Control-Max-Age", str(max_age_s)),
            ("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
        )

    def allows(self, origin: str) -> bool:
        return origin in self._allowed

    def response_headers(self, origin: str | None) -> tuple[tuple[str, str], ...]:
        """For an actual request (not a preflight): what to add to its answer; nothing for
        a request without Origin or from an origin not on the list."""
        if origin is None:
            return ()
        return self._exposed.get(origin, ())

    def preflight(self, origin: str, method: str, request_headers: str | None) -> Preflight:
        """A preflight (OPTIONS with Origin and Access-Control-Request-Method)."""
        if origin not in self._allowed:
            shown = origin[:MAX_ORIGIN_CHARS]
            return Preflight(refused=f"The origin {shown!r} is not allowed to call this API.")
        if method.upper() not in self.methods:
            return Preflight(refused=f"The method {method[:32]!r} is not allowed from a browser.")
        for name in (request_headers or "").split(","):
            name = name.strip().lower()
            if name and name not in self.headers and name not in _SAFELISTED:
                return Preflight(refused=f"The header {name[:64]!r} is not allowed from a browser.")
        return Preflight(headers=(("Access-Control-Allow-Origin", origin), *self._preflight))

    def websocket_allowed(self, origin: str | None, host: str | None) -> bool:
        """A WebSocket handshake: browsers always send Origin, and CORS does not cover
        WebSockets, so the allow-list is checked here (cross-site WebSocket hijacking). No
        Origin is a non-browser client; the gateway's own origin (same host) is allowed."""
        if origin is None or origin in self._allowed:
            return True
        if host is None:
            return False
        try:
            authority = urlsplit(canonical_origin(origin[:MAX_ORIGIN_CHARS])).netloc
        except ValueError:
            return False
        return authority == host.lower() or authority == _without_default_port(host.lower())


def _without_default_port(host: str) -> str:
    for port in (":80", ":443"):
        if host.endswith(port):
            return host[: -len(port)]
    return host


def vary_with_origin(existing: str | None) -> str:
    """The Vary value once Origin is added (the answer depends on it: caches must know)."""
    if not existing:
        return "Origin"
    if existing.strip() == "*" or "origin" in (v.strip().lower() for v in existing.split(",")):
        return existing
    return f"{existing}, Origin"
