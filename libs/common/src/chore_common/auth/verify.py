"""Access-token verification: EdDSA only, known keys only, issuer/audience/time checked.

One strict pass over the compact JWS: each segment must be canonical base64url; the header
must say `alg: EdDSA` before any key is looked up, so `alg: none`, HS256 signed with the
public key as an HMAC secret, and every other algorithm are refused without touching a key;
the signature is checked by PyJWT's EdDSA algorithm (on `cryptography`); then the claims.
The claim checks are written out here rather than left to `jwt.decode`, whose per-character
segment scan doubled the cost of a verification (bench figure `auth.verify_ratio`); they
follow RFC 7519 and PyJWT's semantics, and tests/common/unit/test_verify.py pins each one.

A token that passed every check is remembered (bounded LRU, keyed by the whole token
string) so the next request with it skips the Ed25519 verification, which was ~40 % of a
cached GET (bench figure `tasks.token_verify_share`). Only fully verified tokens go in, and
only an exact string match comes out, so a tampered token always takes the full path. A hit
still checks expiry (same leeway), the revocation set, and that the signing key is still the
one the key source serves, so the cache never widens what is accepted.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwt.algorithms import get_default_algorithms

from chore_common.errors import Unauthorized

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ("sub", "sid", "role", "iat", "exp", "iss", "aud", "jti")
_TEXT_CLAIMS = ("sub", "sid", "role", "jti")
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_MAX_TOKEN_CHARS = 4096
_EDDSA = get_default_algorithms()[ALGORITHM]
DEFAULT_CACHE_SIZE = 10_000


class InvalidToken(Unauthorized):
    code = "invalid_token"
    title = "Invalid token"


class ExpiredToken(InvalidToken):
    code = "token_expired"
    title = "Token expired"


class RevokedToken(InvalidToken):
    code = "session_revoked"
    title = "Session revoked"


class KeySource(Protocol):
    """Where public keys come from: a JWKS cache over HTTP, or auth's own key ring."""

    def get(self, kid: str) -> Ed25519PublicKey | None:
        """The key for `kid` if already known, without I/O."""

    async def fetch(self, kid: str) -> Ed25519PublicKey | None:
        """The key for `kid`, refreshing the key set if it is unknown (rate-limited)."""


class RevocationCheck(Protocol):
    def is_revoked(self, session_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    sid: str
    role: str
    iat: int
    exp: int
    jti: str
    kid: str


@dataclass(frozen=True, slots=True)
class _Verified:
    claims: Claims
    key: Ed25519PublicKey  # the key object it verified under: a replaced key misses
    exp: float  # the raw `exp` claim, so a hit applies the leeway exactly as a miss does


@dataclass(frozen=True, slots=True)
class _Parsed:
    kid: str
    signing_input: bytes
    payload: bytes
    signature: bytes


class TokenVerifier:
    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway_s: float = 5.0,
        revoked: RevocationCheck | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self.revoked = revoked
        self.cache_size = cache_size
        self._verified: OrderedDict[str, _Verified] = OrderedDict()

    def __len__(self) -> int:
        """How many verified tokens are remembered."""
        return len(self._verified)

    async def verify(self, token: str) -> Claims:
        """Claims of a valid, unrevoked token; `InvalidToken` (a 401) for anything else."""
        claims = self._remembered(token)
        if claims is not None:
            return claims
        parsed = _parse(token)
        key = self.keys.get(parsed.kid) or await self.keys.fetch(parsed.kid)
        if key is None:
            raise InvalidToken("Token signed with an unknown key.")
        return self._check(token, parsed, key)

    def verify_cached(self, token: str) -> Claims:
        """Like `verify` but without I/O: an unknown `kid` is refused, not looked up."""
        claims = self._remembered(token)
        if claims is not None:
            return claims
        parsed = _parse(token)
        key = self.keys.get(parsed.kid)
        if key is None:
            raise InvalidToken("Token signed with an unknown key.")
        return self._check(token, parsed, key)

    def _remembered(self, token: str) -> Claims | None:
        """The claims of `token` if it was verified before and still passes every check
        that can change with time: expiry, revocation, and its key still being served."""
        entry = self._verified.get(token) if isinstance(token, str) else None
        if entry is None:
            return None
        claims = entry.claims
        if self.keys.get(claims.kid) is not entry.key:
            del self._verified[token]  # key withdrawn or replaced: verify afresh
            return None
        if time.time() > entry.exp + self.leeway_s:
            del self._verified[token]
            raise ExpiredToken("Token expired.")
        if self.revoked is not None and self.revoked.is_revoked(claims.sid):
            raise RevokedToken("Session revoked.")
        self._verified.move_to_end(token)
        return claims

    def _remember(self, token: str, entry: _Verified) -> None:
        if self.cache_size <= 0:
            return
        self._verified[token] = entry
        if len(self._verified) > self.cache_size:
            self._verified.popitem(last=False)

    def _check(self, token: str, parsed: _Parsed, key: Ed25519PublicKey) -> Claims:
        if not _EDDSA.verify(parsed.signing_input, key, parsed.signature):
            raise InvalidToken("Token is not valid.")
        try:
            payload = json.loads(parsed.payload)
        except ValueError:
            raise InvalidToken("Token is not valid.") from None
        if not isinstance(payload, dict) or any(c not in payload for c in REQUIRED_CLAIMS):
            raise InvalidToken("Token claims are missing.")
        claims = self._claims(payload, parsed.kid)
        if self.revoked is not None and self.revoked.is_revoked(claims.sid):
            raise RevokedToken("Session revoked.")
        self._remember(token, _Verified(claims, key, payload["exp"]))
        return claims

    def _claims(self, payload: dict[str, Any], kid: str) -> Claims:
        now = time.time()
        exp, iat, nbf = payload["exp"], payload["iat"], payload.get("nbf", 0)
        if not (_number(exp) and _number(iat) and _number(nbf)):
            raise InvalidToken("Token times are malformed.")
        if now > exp + self.leeway_s:
            raise ExpiredToken("Token expired.")
        if iat > now + self.leeway_s or nbf > now + self.leeway_s:
            raise InvalidToken("Token is not valid yet.")
        if payload["iss"] != self.issuer:
            raise InvalidToken("Token issuer not accepted.")
        aud = payload["aud"]
        if not (aud == self.audience or (isinstance(aud, list) and self.audience in aud)):
            raise InvalidToken("Token audience not accepted.")
        for name in _TEXT_CLAIMS:
            value = payload[name]
            if not isinstance(value, str) or not value:
                raise InvalidToken("Token claims are malformed.")
        return Claims(
            sub=payload["sub"],
            sid=payload["sid"],
            role=payload["role"],
            iat=int(iat),
            exp=int(exp),
            jti=payload["jti"],
            kid=kid,
        )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _segment(text: str) -> bytes:
    """Canonical unpadded base64url only: one token has exactly one spelling."""
    if not _SEGMENT.fullmatch(text) or len(text) % 4 == 1:
        raise InvalidToken("Token is not valid.")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        raise InvalidToken("Token is not valid.") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != text.encode("ascii"):
        raise InvalidToken("Token is not valid.")
    return raw


def _parse(token: str) -> _Parsed:
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS or token.count(".") != 2:
        raise InvalidToken("Token is not valid.")
    head, body, sig = token.split(".")
    try:
        header = json.loads(_segment(head))
    except ValueError:
        raise InvalidToken("Token is not valid.") from None
    if not isinstance(header, dict) or header.get("alg") != ALGORITHM:
        raise InvalidToken("Token algorithm not allowed.")
    # RFC 7515 4.1.11: extensions we do not understand must not be ignored; `b64: false`
    # (RFC 7797) would change what the signature covers.
    if "crit" in header or "b64" in header:
        raise InvalidToken("Token header not accepted.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("Token has no key id.")
    return _Parsed(kid, f"{head}.{body}".encode("ascii"), _segment(body), _segment(sig))
