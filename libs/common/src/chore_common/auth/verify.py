"""Access-token verification through PyJWT: EdDSA only, known keys only, issuer/audience/time.

`jwt.decode` does the verification (RFC 7515/7519 as PyJWT implements them: segments,
header, `crit`, the Ed25519 signature on `cryptography`, `exp`/`nbf`/`iat` with the leeway,
`iss`, `aud`, the required claims), with the algorithm pinned to EdDSA, so `alg: none` and
HS256 signed with the public key as an HMAC secret are refused by the library. Around it:

- the kid lookup: the token's `kid` (read with `jwt.get_unverified_header`) picks the key
  from the key source; an unknown `kid` makes it refresh its JWKS (rate-limited), and a
  header naming any algorithm but EdDSA is refused before any key is looked up, so garbage
  cannot make a service fetch keys;
- the claims the platform needs (`sid`, `role` as non-empty strings, `sub` a UUID text) are
  checked once the token verified, as application rules, not parsing;
- the header's verdict is remembered by its exact text: every token signed with one key
  starts with the same header segment, so a token's first sight reads its header once per
  key, not once per token (`jwt.get_unverified_header` decodes all three segments, a
  quarter of a first verification; bench figure `auth.verify_ratio`). It picks the key and
  nothing more, and only headers that named EdDSA and a kid are remembered (bounded);
- the verified-token cache: a token that passed every check is remembered (bounded LRU,
  keyed by the whole token string), so the next request with it skips the Ed25519 check
  (~40 % of a cached GET, bench figure `tasks.token_verify_share`). Only an exact string
  match comes out, so a tampered token always takes the full path; a hit still checks
  expiry (same leeway), the revocation set, and that the signing key is still served.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwt.types import Options

from chore_common.errors import Unauthorized

ALGORITHM: Final = "EdDSA"
REQUIRED_CLAIMS: Final = ("sub", "sid", "role", "iat", "exp", "iss", "aud", "jti")
_TEXT_CLAIMS: Final = ("sub", "sid", "role", "jti")
DEFAULT_CACHE_SIZE: Final = 10_000
# Header segments remembered: one per signing key in use, so a handful; the bound only keeps
# made-up headers from growing it.
HEADER_MEMO_SIZE: Final = 64


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
    # `ev`: the account's email is verified (or auth does not require it). A token without
    # the claim (issued before it existed) counts as unverified.
    ev: bool = False


@dataclass(frozen=True, slots=True)
class _Verified:
    claims: Claims
    key: Ed25519PublicKey  # the key object it verified under: a replaced key misses
    exp: float  # the raw `exp` claim, so a hit applies the leeway exactly as a miss does


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
        self._kids: dict[str, str] = {}  # header segment -> its kid (see key_id)
        self._decoder = jwt.PyJWT()
        self._options: Options = {"require": list(REQUIRED_CLAIMS)}

    def __len__(self) -> int:
        """How many verified tokens are remembered."""
        return len(self._verified)

    async def verify(self, token: str) -> Claims:
        """Claims of a valid, unrevoked token; `InvalidToken` (a 401) for anything else."""
        claims = self._remembered(token)
        if claims is not None:
            return claims
        kid = self._key_id(token)
        key = self.keys.get(kid) or await self.keys.fetch(kid)
        if key is None:
            raise InvalidToken("Token signed with an unknown key.")
        return self._check(token, kid, key)

    def verify_cached(self, token: str) -> Claims:
        """Like `verify` but without I/O: an unknown `kid` is refused, not looked up."""
        claims = self._remembered(token)
        if claims is not None:
            return claims
        kid = self._key_id(token)
        key = self.keys.get(kid)
        if key is None:
            raise InvalidToken("Token signed with an unknown key.")
        return self._check(token, kid, key)

    def decode(self, token: str, key: Ed25519PublicKey) -> dict[str, Any]:
        """`jwt.decode` with the platform's options: the one place a token is verified."""
        try:
            payload: dict[str, Any] = self._decoder.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options=self._options,
            )
        except jwt.ExpiredSignatureError:
            raise ExpiredToken("Token expired.") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("Token is not valid yet.") from None
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
            raise InvalidToken("Token issuer or audience not accepted.") from None
        except jwt.MissingRequiredClaimError:
            raise InvalidToken("Token claims are missing.") from None
        except jwt.InvalidTokenError:
            raise InvalidToken("Token is not valid.") from None
        return payload

    def _key_id(self, token: str) -> str:
        """`key_id(token)`, remembered by the token's header segment (its exact text)."""
        if not isinstance(token, str):
            raise InvalidToken("Token is not valid.")
        header = token.partition(".")[0]
        kid = self._kids.get(header)
        if kid is None:
            kid = key_id(token)  # raises for anything but an EdDSA header with a kid
            if len(self._kids) >= HEADER_MEMO_SIZE:
                self._kids.clear()
            self._kids[header] = kid
        return kid

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

    def _check(self, token: str, kid: str, key: Ed25519PublicKey) -> Claims:
        payload = self.decode(token, key)
        claims = platform_claims(payload, kid)
        if self.revoked is not None and self.revoked.is_revoked(claims.sid):
            raise RevokedToken("Session revoked.")
        self._remember(token, _Verified(claims, key, payload["exp"]))
        return claims


def key_id(token: str) -> str:
    """The `kid` of a token whose header names EdDSA; `InvalidToken` otherwise.

    Only picks the key: the header is verified with the rest by `jwt.decode`.
    """
    if not isinstance(token, str):  # its size is bounded by the server's header limit
        raise InvalidToken("Token is not valid.")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise InvalidToken("Token is not valid.") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("Token algorithm not allowed.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("Token has no key id.")
    return kid


def platform_claims(payload: dict[str, Any], kid: str) -> Claims:
    """The verified payload as the platform's `Claims`: its identifiers must be non-empty
    text (PyJWT checks the times' types and the registered claims it knows)."""
    for name in _TEXT_CLAIMS:
        value = payload[name]
        if not isinstance(value, str) or not value:
            raise InvalidToken("Token claims are malformed.")
    return Claims(
        sub=payload["sub"],
        sid=payload["sid"],
        role=payload["role"],
        iat=int(payload["iat"]),
        exp=int(payload["exp"]),
        jti=payload["jti"],
        kid=kid,
        ev=payload.get("ev") is True,
    )
