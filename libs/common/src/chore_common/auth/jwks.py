"""Auth's public keys (JWKS), fetched over HTTP and cached, refreshed on an unknown `kid`.

The set is refreshed every `ttl_s` in the background and at once when a token names a key
not in it (auth publishes a new key before signing with it, so that is rare). Unknown-kid
refreshes are rate-limited and single-flight: a flood of tokens with made-up `kid`s costs
auth at most one request per `min_refresh_interval_s` per verifier.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

log = logging.getLogger(__name__)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def thumbprint(key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint: a `kid` derived from the key itself, stable everywhere."""
    x = _b64url(key.public_bytes(Encoding.Raw, PublicFormat.Raw))
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def public_jwk(key: Ed25519PublicKey, kid: str) -> dict[str, str]:
    x = _b64url(key.public_bytes(Encoding.Raw, PublicFormat.Raw))
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}


def parse_jwks(document: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """kid -> key for every Ed25519 signing key in a JWKS document; anything else is skipped."""
    keys: dict[str, Ed25519PublicKey] = {}
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ValueError("JWKS document has no 'keys' list")
    for jwk in entries:
        if not isinstance(jwk, dict):
            continue
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", "EdDSA") != "EdDSA":
            continue
        kid, x = jwk.get("kid"), jwk.get("x")
        if not isinstance(kid, str) or not kid or not isinstance(x, str):
            continue
        try:
            keys[kid] = Ed25519PublicKey.from_public_bytes(_unb64url(x))
        except ValueError:
            log.warning("jwks.bad_key", extra={"kid": kid})
    return keys


class StaticKeys:
    """A fixed key set (tests, tools): the same interface as `JwksCache`."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey]) -> None:
        self.keys = dict(keys)

    def get(self, kid: str) -> Ed25519PublicKey | None:
        return self.keys.get(kid)

    async def fetch(self, kid: str) -> Ed25519PublicKey | None:
        return self.keys.get(kid)


class JwksCache:
    def __init__(
        self,
        url: str,
        *,
        ttl_s: float = 300.0,
        min_refresh_interval_s: float = 1.0,
        timeout_s: float = 3.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        # Several URLs (comma-separated: one per auth replica) are tried in turn, starting
        # with the last one that answered, so one auth replica down costs no refresh.
        self.urls = [u.strip() for u in url.split(",") if u.strip()]
        self.url = self.urls[0] if self.urls else url
        self.ttl_s = ttl_s
        self.min_refresh_interval_s = min_refresh_interval_s
        self.timeout_s = timeout_s
        self.fetches = 0
        self._session = session
        self._own_session = session is None
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._last_attempt = -float("inf")
        self._inflight: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def get(self, kid: str) -> Ed25519PublicKey | None:
        return self._keys.get(kid)

    async def fetch(self, kid: str) -> Ed25519PublicKey | None:
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._inflight is None and not self._may_refresh():
            return None
        try:
            await self.refresh()
        except Exception:  # auth unreachable: the token is refused, the service keeps going
            log.warning("jwks.refresh_failed", extra={"url": self.url}, exc_info=True)
            return None
        return self._keys.get(kid)

    def _may_refresh(self) -> bool:
        # With no key at all every token is refused anyway (auth was down at start): retry
        # ten times sooner, so a replica is back within ~0.1 s of auth, not a second.
        interval = self.min_refresh_interval_s / (1 if self._keys else 10)
        return time.monotonic() - self._last_attempt >= interval

    async def refresh(self) -> None:
        """Fetch the key set now; concurrent callers share one request."""
        if self._inflight is None:
            self._last_attempt = time.monotonic()
            self._inflight = asyncio.create_task(self._download())
            self._inflight.add_done_callback(self._clear_inflight)
        await asyncio.shield(self._inflight)

    def _clear_inflight(self, _: asyncio.Task[None]) -> None:
        self._inflight = None

    async def _download(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        self.fetches += 1
        failure: Exception | None = None
        for url in [self.url, *(u for u in self.urls if u != self.url)]:
            try:
                async with self._session.get(url, timeout=timeout) as resp:
                    resp.raise_for_status()
                    document = await resp.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError) as exc:
                failure = exc
                continue
            self.url = url
            break
        else:
            raise failure or RuntimeError("no JWKS URL configured")
        keys = parse_jwks(document)
        # Replace, not merge: a key auth stopped publishing must stop verifying.
        self._keys = keys
        log.debug("jwks.refreshed", extra={"kids": sorted(keys)})

    async def start(self) -> None:
        """First fetch (best effort: auth may start later) and the periodic refresh."""
        try:
            await self.refresh()
        except Exception:
            log.warning("jwks.initial_fetch_failed", extra={"url": self.url}, exc_info=True)
        self._ticker = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_s)
            try:
                await self.refresh()
            except Exception:
                log.warning("jwks.refresh_failed", extra={"url": self.url}, exc_info=True)

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        if self._inflight is not None:
            await asyncio.gather(self._inflight, return_exceptions=True)
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None
