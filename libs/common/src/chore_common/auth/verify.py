"""Access-token verification: EdDSA only, known keys only, issuer/audience/time checked.

The algorithm is pinned before any key is looked up, so `alg: none`, HS256 signed with the
public key as an HMAC secret, and any other algorithm are refused without touching a key.
PyJWT (on `cryptography`) checks the signature and the registered claims; the header is read
here once because PyJWT would otherwise parse the whole token twice (once for the `kid`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from chore_common.errors import Unauthorized

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ("sub", "sid", "role", "iat", "exp", "iss", "aud", "jti")
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_MAX_TOKEN_CHARS = 4096


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


class TokenVerifier:
    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway_s: float = 5.0,
        revoked: RevocationCheck | None = None,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self.revoked = revoked
        self._options: Any = {"require": list(REQUIRED_CLAIMS)}

    async def verify(self, token: str) -> Claims:
        """Claims of a valid, unrevoked token; `InvalidToken` (a 401) for anything else."""
        kid = _pinned_kid(token)
        key = self.keys.get(kid) or await self.keys.fetch(kid)
        if key is None:
            raise InvalidToken("Token signed with an unknown key.")
        return self._decode(token, key, kid)

    def verify_cached(self, token: str) -> Claims:
        """Like `verify` but without I/O: an unknown `kid` is refused, not looked up."""
        kid = _pinned_kid(token)
        key = self.keys.get(kid)
        if key is None:
            raise InvalidToken("Token signed with an unknown key.")
        return self._decode(token, key, kid)

    def _decode(self, token: str, key: Ed25519PublicKey, kid: str) -> Claims:
        try:
            payload = jwt.decode(
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
        except jwt.PyJWTError:
            raise InvalidToken("Token is not valid.") from None
        try:
            claims = Claims(
                sub=_text(payload["sub"]),
                sid=_text(payload["sid"]),
                role=_text(payload["role"]),
                iat=int(payload["iat"]),
                exp=int(payload["exp"]),
                jti=_text(payload["jti"]),
                kid=kid,
            )
        except (TypeError, ValueError):
            raise InvalidToken("Token claims are malformed.") from None
        if self.revoked is not None and self.revoked.is_revoked(claims.sid):
            raise RevokedToken("Session revoked.")
        return claims


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("claim must be a non-empty string")
    return value


def _pinned_kid(token: str) -> str:
    """The `kid` of a token whose header says EdDSA; `InvalidToken` otherwise."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
        raise InvalidToken("Token is not valid.")
    head, _, _ = token.partition(".")
    if not _SEGMENT.fullmatch(head):
        raise InvalidToken("Token is not valid.")
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error):
        raise InvalidToken("Token is not valid.") from None
    if not isinstance(header, dict) or header.get("alg") != ALGORITHM:
        raise InvalidToken("Token algorithm not allowed.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("Token has no key id.")
    return kid
