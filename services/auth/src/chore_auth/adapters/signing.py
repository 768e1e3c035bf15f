"""The key ring: which Ed25519 key signs access tokens now, and which keys the JWKS shows.

Rotation without downtime is a matter of timestamps. A rotated-in key is published at once
but signs only from `activates_at`, after every verifier has refreshed its JWKS; the key it
replaces stops signing then (`retired_at`) but stays published until the last token it
signed has expired. Keys come from secret files in production (current, next, previous
slots, rotated by the deployment) or, when no file is set, from the database, where
`chore-auth keys rotate` adds them and the first start generates one for local development.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from sqlalchemy.exc import IntegrityError

from chore_auth.adapters.uow import AuthUnitOfWork
from chore_auth.domain.model import AccessClaims
from chore_common.auth.jwks import public_jwk, thumbprint
from chore_common.clock import utcnow

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NEVER = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey
    public: Ed25519PublicKey
    activates_at: datetime
    retired_at: datetime | None = None

    def __repr__(self) -> str:  # never let a private key reach a log line or traceback
        return f"SigningKey(kid={self.kid!r})"


def generate_key() -> tuple[str, str]:
    """A new Ed25519 key: (kid, PKCS#8 PEM)."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    return thumbprint(private.public_key()), pem


def load_key(
    pem: str | bytes, *, activates_at: datetime, retired_at: datetime | None = None
) -> SigningKey:
    data = pem.encode() if isinstance(pem, str) else pem
    private = load_pem_private_key(data, password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError("signing keys must be Ed25519")
    public = private.public_key()
    return SigningKey(thumbprint(public), private, public, activates_at, retired_at)


class KeyRing:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        token_ttl_s: float,
        leeway_s: float = 5.0,
        files: tuple[Path | None, Path | None, Path | None] = (None, None, None),
        uow: Callable[[], AuthUnitOfWork] | None = None,
        min_reload_interval_s: float = 1.0,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keep_after_retire = timedelta(seconds=token_ttl_s + leeway_s)
        self.current_file, self.next_file, self.previous_file = files
        self._uow = uow
        self.min_reload_interval_s = min_reload_interval_s
        self._keys: list[SigningKey] = []
        self._by_kid: dict[str, SigningKey] = {}
        self._last_load = -float("inf")
        self._lock = asyncio.Lock()

    @property
    def from_files(self) -> bool:
        return self.current_file is not None

    # -- loading -----------------------------------------------------------------------

    async def load(self) -> None:
        async with self._lock:
            self._last_load = time.monotonic()
            keys = self._read_files() if self.from_files else await self._read_database()
            before = [(k.kid, k.activates_at, k.retired_at) for k in self._keys]
            self._keys = sorted(keys, key=lambda k: (k.activates_at, k.kid))
            self._by_kid = {k.kid: k for k in self._keys}
        if before != [(k.kid, k.activates_at, k.retired_at) for k in self._keys]:
            log.info("keys.loaded", extra={"kids": [k.kid for k in self._keys]})

    def _read_files(self) -> list[SigningKey]:
        assert self.current_file is not None
        keys = [load_key(self.current_file.read_bytes(), activates_at=_EPOCH + timedelta(1))]
        if self.previous_file is not None:
            keys.append(load_key(self.previous_file.read_bytes(), activates_at=_EPOCH))
        if self.next_file is not None:
            keys.append(load_key(self.next_file.read_bytes(), activates_at=_NEVER))
        return keys

    async def _read_database(self) -> list[SigningKey]:
        if self._uow is None:
            raise RuntimeError("no key file configured and no database to keep keys in")
        rows = await self._rows()
        if not rows:
            await self._generate_first()
            rows = await self._rows()
        return [
            load_key(r.private_pem, activates_at=r.activates_at, retired_at=r.retired_at)
            for r in rows
        ]

    async def _rows(self) -> list[Any]:
        assert self._uow is not None
        async with self._uow() as uow:
            return await uow.signing_keys.all()

    async def _generate_first(self) -> None:
        assert self._uow is not None
        kid, pem = generate_key()
        try:
            async with self._uow() as uow:
                # Every first key activates at the epoch, and activates_at is unique: of
                # replicas starting side by side on an empty table, exactly one key gets in.
                await uow.signing_keys.add(kid, pem, now=utcnow(), activates_at=_EPOCH)
                await uow.commit()
        except IntegrityError:
            return  # another replica generated one at the same moment: use theirs
        log.info("keys.generated", extra={"kid": kid})

    async def reload_every(self, interval_s: float) -> None:
        """Replicas pick up a rotation made by the CLI (or another replica) on their own."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.load()
            except Exception:
                log.warning("keys.reload_failed", exc_info=True)

    # -- using -------------------------------------------------------------------------

    def signing_key(self, now: datetime) -> SigningKey:
        live = [
            k
            for k in self._keys
            if k.activates_at <= now and (k.retired_at is None or k.retired_at > now)
        ]
        if not live:
            live = [k for k in self._keys if k.activates_at <= now] or self._keys
        if not live:
            raise RuntimeError("no signing key loaded")
        return live[-1]

    def published(self, now: datetime) -> list[SigningKey]:
        return [
            k
            for k in self._keys
            if k.retired_at is None or k.retired_at + self.keep_after_retire > now
        ]

    def jwks(self, now: datetime) -> dict[str, list[dict[str, str]]]:
        return {"keys": [public_jwk(k.public, k.kid) for k in self.published(now)]}

    def sign(self, claims: AccessClaims) -> str:
        key = self.signing_key(claims.iat)
        payload = {
            "sub": str(claims.sub),
            "sid": str(claims.sid),
            "role": claims.role.value,
            "iat": int(claims.iat.timestamp()),
            "exp": int(claims.exp.timestamp()),
            "iss": self.issuer,
            "aud": self.audience,
            "jti": str(claims.jti),
            "ev": claims.ev,
        }
        return jwt.encode(payload, key.private, algorithm="EdDSA", headers={"kid": key.kid})

    # -- chore_common.auth.KeySource: auth verifies its own tokens without HTTP ---------

    def get(self, kid: str) -> Ed25519PublicKey | None:
        key = self._by_kid.get(kid)
        if key is None or key not in self.published(utcnow()):
            return None
        return key.public

    async def fetch(self, kid: str) -> Ed25519PublicKey | None:
        known = self.get(kid)
        if known is not None or self.from_files:
            return known
        if time.monotonic() - self._last_load < self.min_reload_interval_s:
            return None
        await self.load()
        return self.get(kid)
