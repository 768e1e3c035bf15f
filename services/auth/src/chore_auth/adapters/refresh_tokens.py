"""Opaque refresh tokens: 256 random bits for the client, only a SHA-256 kept by us.

A fast hash is enough here (unlike passwords): the token is random and long, so the
stored hash cannot be reversed by guessing, and lookup by hash stays one index probe.

A rotated token's row also keeps its successor *sealed under the token itself*
(AES-GCM, key derived from the token with HKDF), so a retry inside the reuse grace gets
the very token the first refresh issued, not a second live one. Opening the seal takes
the plain token, which only its holder has: the database alone yields no usable token.
"""

from __future__ import annotations

import hashlib
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "rt_"
_SEAL_INFO = b"chore-auth refresh token successor v1"
_NONCE_BYTES = 12


def new_refresh_token() -> tuple[str, str]:
    """(the token to hand out once, the hash to store)."""
    token = PREFIX + secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(_bytes(token)).hexdigest()


def seal_successor(token: str, successor: str) -> bytes:
    """`successor`, readable only with `token` (nonce + ciphertext + tag)."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + AESGCM(_seal_key(token)).encrypt(nonce, successor.encode(), None)


def open_successor(token: str, sealed: bytes) -> str | None:
    """The successor sealed under `token`; None if `sealed` was not made with it."""
    nonce, body = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    try:
        return AESGCM(_seal_key(token)).decrypt(nonce, body, None).decode()
    except (InvalidTag, ValueError):
        return None


def _seal_key(token: str) -> bytes:
    # HKDF, not the stored SHA-256: the key must not be derivable from the database.
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_INFO)
    return kdf.derive(_bytes(token))


def _bytes(token: str) -> bytes:
    return token.encode("utf-8", "surrogatepass")


class RefreshTokenMint:
    """The functions above as the use cases' port (usecases.ports.RefreshTokenMint)."""

    def new_token(self) -> tuple[str, str]:
        return new_refresh_token()

    def hash_token(self, token: str) -> str:
        return hash_refresh_token(token)

    def seal_successor(self, token: str, successor: str) -> bytes:
        return seal_successor(token, successor)

    def open_successor(self, token: str, sealed: bytes) -> str | None:
        return open_successor(token, sealed)
