"""S2: the common verifier accepts auth's tokens and refuses every forgery with a 401 error."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chore_common.auth import (
    ExpiredToken,
    InvalidToken,
    RevokedSessions,
    RevokedToken,
    StaticKeys,
    TokenVerifier,
    thumbprint,
)
from chore_common.errors import Unauthorized

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
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: Ed25519PrivateKey = KEY, kid: str = KID) -> str:
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def verifier(revoked: RevokedSessions | None = None) -> TokenVerifier:
    keys = StaticKeys({KID: KEY.public_key()})
    return TokenVerifier(keys, issuer=ISS, audience=AUD, leeway_s=5, revoked=revoked)


async def test_a_token_signed_by_auth_verifies_to_its_claims() -> None:
    payload = claims(role="tasker")
    got = await verifier().verify(sign(payload))
    assert (got.sub, got.sid, got.role, got.jti, got.kid) == (
        payload["sub"],
        payload["sid"],
        "tasker",
        payload["jti"],
        KID,
    )


async def test_alg_none_is_refused() -> None:
    header = b64(json.dumps({"alg": "none", "kid": KID, "typ": "JWT"}).encode())
    token = f"{header}.{b64(json.dumps(claims()).encode())}."
    with pytest.raises(InvalidToken):
        await verifier().verify(token)


async def test_hs256_signed_with_the_public_key_is_refused() -> None:
    public = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    header = b64(json.dumps({"alg": "HS256", "kid": KID, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    for secret in (public, b64(public).encode()):
        mac = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
        with pytest.raises(InvalidToken):
            await verifier().verify(f"{header}.{body}.{b64(mac)}")


async def test_a_tampered_payload_is_refused() -> None:
    head, _, sig = sign(claims(role="client")).split(".")
    forged = b64(json.dumps(claims(role="admin")).encode())
    with pytest.raises(InvalidToken):
        await verifier().verify(f"{head}.{forged}.{sig}")


async def test_an_unknown_kid_is_refused() -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(InvalidToken):
        await verifier().verify(sign(claims(), key=other, kid=thumbprint(other.public_key())))


async def test_another_key_claiming_a_known_kid_is_refused() -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(sign(claims(), key=Ed25519PrivateKey.generate(), kid=KID))


async def test_a_token_without_kid_is_refused() -> None:
    token = jwt.encode(claims(), KEY, algorithm="EdDSA")
    with pytest.raises(InvalidToken):
        await verifier().verify(token)


async def test_an_expired_token_is_refused_as_expired() -> None:
    now = int(time.time())
    with pytest.raises(ExpiredToken) as caught:
        await verifier().verify(sign(claims(iat=now - 1000, exp=now - 60)))
    assert caught.value.code == "token_expired"


async def test_a_token_expired_within_the_leeway_still_verifies() -> None:
    now = int(time.time())
    await verifier().verify(sign(claims(iat=now - 900, exp=now - 2)))


@pytest.mark.parametrize(
    "change",
    [{"aud": "someone-else"}, {"iss": "evil-auth"}, {"aud": None}, {"iss": None}],
    ids=["wrong aud", "wrong iss", "no aud", "no iss"],
)
async def test_a_token_for_another_audience_or_issuer_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(sign(claims(**change)))


@pytest.mark.parametrize("missing", ["sub", "sid", "role", "iat", "exp", "jti"])
async def test_a_token_missing_a_required_claim_is_refused(missing: str) -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(sign(claims(**{missing: None})))


async def test_a_token_not_yet_valid_is_refused() -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(sign(claims(nbf=int(time.time()) + 120)))


@pytest.mark.parametrize(
    "garbage",
    ["", "abc", "a.b.c", "....", "eyJhbGciOiJFZERTQSJ9.e30", "x" * 5000, "é.é.é"],
)
async def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(garbage)


async def test_a_revoked_session_is_refused() -> None:
    revoked = RevokedSessions(token_ttl_s=900)
    payload = claims()
    revoked.revoke(payload["sid"])
    with pytest.raises(RevokedToken) as caught:
        await verifier(revoked).verify(sign(payload))
    assert caught.value.code == "session_revoked"


def test_every_refusal_is_an_unauthorized_error() -> None:
    assert issubclass(InvalidToken, Unauthorized)
    assert issubclass(ExpiredToken, Unauthorized)
    assert issubclass(RevokedToken, Unauthorized)


def test_verify_cached_refuses_an_unknown_kid_without_io() -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(InvalidToken):
        verifier().verify_cached(sign(claims(), key=other, kid="nope"))
    assert verifier().verify_cached(sign(claims())).kid == KID


def test_a_revocation_is_forgotten_once_its_tokens_have_expired() -> None:
    revoked = RevokedSessions(token_ttl_s=900, leeway_s=5)
    revoked.revoke("old", revoked_at=time.time() - 1000)
    revoked.revoke("recent", revoked_at=time.time() - 100)
    assert not revoked.is_revoked("old")
    assert revoked.is_revoked("recent")


def test_revocation_listeners_hear_each_session_once() -> None:
    revoked = RevokedSessions()
    heard: list[str] = []
    revoked.on_revoke(heard.append)
    revoked.revoke("s1")
    revoked.revoke("s1")
    revoked.revoke("s2")
    assert heard == ["s1", "s2"]


async def test_an_audience_list_naming_us_is_accepted() -> None:
    got = await verifier().verify(sign(claims(aud=["billing", AUD])))
    assert got.kid == KID


# Times are read as PyJWT reads them (it takes `int()` of each, so a numeric string counts,
# where the hand-written verifier refused it): only auth's key can sign such a token, and
# the differential test (test_verify_differential.py) holds the verifier to `jwt.decode`.
@pytest.mark.parametrize(
    "change",
    [{"exp": "soon"}, {"exp": True}, {"iat": "now"}, {"sub": ""}, {"sid": 42}],
    ids=["exp as words", "exp as bool", "iat as words", "empty sub", "numeric sid"],
)
async def test_malformed_claims_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(sign(claims(**change)))


async def test_a_token_issued_in_the_future_is_refused() -> None:
    now = int(time.time())
    with pytest.raises(InvalidToken):
        await verifier().verify(sign(claims(iat=now + 120, exp=now + 1000)))


async def test_a_critical_header_extension_is_refused() -> None:
    token = jwt.encode(
        claims(), KEY, algorithm="EdDSA", headers={"kid": KID, "crit": ["exp"], "exp": 1}
    )
    with pytest.raises(InvalidToken):
        await verifier().verify(token)


async def test_a_second_spelling_of_the_same_signature_is_refused() -> None:
    head, body, sig = sign(claims()).split(".")
    # The last base64url character carries 4 unused bits: flipping one spells the same bytes.
    last = sig[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]
    with pytest.raises(InvalidToken):
        await verifier().verify(f"{head}.{body}.{sig[:-1]}{twin}")


async def test_a_payload_that_is_not_an_object_is_refused() -> None:
    head = b64(json.dumps({"alg": "EdDSA", "kid": KID}).encode())
    body = b64(b"[1, 2, 3]")
    signature = b64(KEY.sign(f"{head}.{body}".encode()))
    with pytest.raises(InvalidToken):
        await verifier().verify(f"{head}.{body}.{signature}")


async def test_a_header_seen_before_lets_no_forgery_through() -> None:
    # The verifier remembers a header it has read; what follows it is verified in full.
    one = verifier()
    good = sign(claims())
    await one.verify(good)
    head, body, sig = good.split(".")
    forged = b64(json.dumps(claims(role="admin")).encode())
    other_sig = sign(claims(), key=Ed25519PrivateKey.generate()).split(".")[2]
    for token in (
        f"{head}.{forged}.{sig}",
        f"{head}.{body}.{other_sig}",
        f"{head}.not-base64!.{sig}",
        f"{head}.{body}",
        f"{head}..",
        f"{head}.{body}.{sig}.extra",
    ):
        with pytest.raises(InvalidToken):
            await one.verify(token)
    unverified = jwt.decode(good, options={"verify_signature": False})
    assert (await one.verify(good)).sub == unverified["sub"]


async def test_made_up_headers_do_not_grow_the_verifier_without_bound() -> None:
    one = verifier()
    for i in range(500):
        head = b64(json.dumps({"alg": "EdDSA", "kid": f"made-up-{i}"}).encode())
        with pytest.raises(InvalidToken):
            await one.verify(f"{head}.e30.{b64(b'x' * 64)}")
    assert len(one._kids) <= 64
    assert (await one.verify(sign(claims()))).role == "client"
