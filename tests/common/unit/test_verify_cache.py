"""The verified-token cache: skips repeat signature checks, never widens what is accepted."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chore_common.auth import (
    ExpiredToken,
    InvalidToken,
    RevokedSessions,
    RevokedToken,
    StaticKeys,
    TokenVerifier,
    thumbprint,
)

ISS, AUD = "chore-auth", "chore-platform"
KEY = Ed25519PrivateKey.generate()
KID = thumbprint(KEY.public_key())


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "role": "client",
        "iat": now,
        "exp": now + 900,
        "iss": ISS,
        "aud": AUD,
        "jti": str(uuid.uuid4()),
    }
    base.update(changes)
    return base


def sign(payload: dict[str, Any], key: Ed25519PrivateKey = KEY, kid: str = KID) -> str:
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def verifier(
    revoked: RevokedSessions | None = None, keys: StaticKeys | None = None, size: int = 100
) -> TokenVerifier:
    keys = keys or StaticKeys({KID: KEY.public_key()})
    return TokenVerifier(
        keys, issuer=ISS, audience=AUD, leeway_s=5, revoked=revoked, cache_size=size
    )


class CountingSignatures:
    """Counts a verifier's full verifications (its calls to PyJWT's `jwt.decode`)."""

    def __init__(self, verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch) -> None:
        self.real = verifier.decode
        self.checks = 0
        monkeypatch.setattr(verifier, "decode", self.decode)

    def decode(self, *args: Any) -> dict[str, Any]:
        self.checks += 1
        return self.real(*args)


async def test_a_second_verification_of_the_same_token_is_served_from_the_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    v = verifier()
    counting = CountingSignatures(v, monkeypatch)
    token = sign(claims(role="tasker"))
    first = await v.verify(token)
    assert first.role == "tasker"
    assert await v.verify(token) == first
    assert v.verify_cached(token) == first
    assert (counting.checks, len(v)) == (1, 1)


async def test_a_cached_token_past_its_expiry_plus_leeway_is_refused() -> None:
    v = verifier()
    now = time.time()
    token = sign(claims(iat=int(now), exp=int(now) + 60))
    await v.verify(token)
    # time-machine moves every clock (time.time and the datetime PyJWT reads) together.
    with time_machine.travel(now + 64, tick=False):  # inside the 5 s leeway
        await v.verify(token)
    with time_machine.travel(now + 66, tick=False):
        with pytest.raises(ExpiredToken):
            await v.verify(token)
        with pytest.raises(ExpiredToken):
            v.verify_cached(token)
    assert len(v) == 0


async def test_a_session_revoked_after_its_token_was_cached_is_refused_on_every_hit() -> None:
    revoked = RevokedSessions()
    v = verifier(revoked)
    payload = claims()
    token = sign(payload)
    await v.verify(token)
    revoked.revoke(payload["sid"])
    for _ in range(2):
        with pytest.raises(RevokedToken):
            await v.verify(token)
        with pytest.raises(RevokedToken):
            v.verify_cached(token)


async def test_a_revoked_token_is_never_cached() -> None:
    revoked = RevokedSessions()
    payload = claims()
    revoked.revoke(payload["sid"])
    v = verifier(revoked)
    with pytest.raises(RevokedToken):
        await v.verify(sign(payload))
    assert len(v) == 0


async def test_a_tampered_copy_of_a_cached_token_is_not_served_from_the_cache() -> None:
    v = verifier()
    payload = claims(role="client")
    token = sign(payload)
    await v.verify(token)
    head, _, sig = token.split(".")
    elevated = b64(json.dumps({**payload, "role": "admin"}).encode())
    for forged in (
        f"{head}.{elevated}.{sig}",
        f"{head}.{token.split('.')[1]}.{sig[:10]}{'B' if sig[10] == 'A' else 'A'}{sig[11:]}",
        token + ".",
        " " + token,
    ):
        with pytest.raises(InvalidToken):
            await v.verify(forged)
        with pytest.raises(InvalidToken):
            v.verify_cached(forged)
    assert len(v) == 1


async def test_a_forged_token_is_never_cached() -> None:
    v = verifier()
    other = Ed25519PrivateKey.generate()
    forged = sign(claims(role="admin"), key=other, kid=KID)
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await v.verify(forged)
    assert len(v) == 0


async def test_the_cache_holds_at_most_its_bound_and_drops_the_least_recently_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    v = verifier(size=3)
    counting = CountingSignatures(v, monkeypatch)
    tokens = [sign(claims()) for _ in range(4)]
    for token in tokens[:3]:
        await v.verify(token)
    await v.verify(tokens[0])  # most recently used now: tokens[1] is the oldest
    await v.verify(tokens[3])
    assert (len(v), counting.checks) == (3, 4)
    for kept in (tokens[0], tokens[2], tokens[3]):
        await v.verify(kept)
    assert counting.checks == 4
    await v.verify(tokens[1])  # evicted: verified in full again
    assert (len(v), counting.checks) == (3, 5)


async def test_a_cached_token_stops_verifying_once_its_key_is_withdrawn() -> None:
    keys = StaticKeys({KID: KEY.public_key()})
    v = verifier(keys=keys)
    token = sign(claims())
    await v.verify(token)
    del keys.keys[KID]
    with pytest.raises(InvalidToken):
        await v.verify(token)
    assert len(v) == 0


async def test_a_cached_token_is_verified_afresh_when_its_kid_names_another_key() -> None:
    keys = StaticKeys({KID: KEY.public_key()})
    v = verifier(keys=keys)
    token = sign(claims())
    await v.verify(token)
    keys.keys[KID] = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(InvalidToken):
        v.verify_cached(token)


async def test_a_zero_size_cache_remembers_nothing() -> None:
    v = verifier(size=0)
    token = sign(claims())
    await v.verify(token)
    await v.verify(token)
    assert len(v) == 0
