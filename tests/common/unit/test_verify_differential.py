"""The platform's verifier says what PyJWT says: 1,000 generated tokens, malformed and edge
cases, each given to `TokenVerifier.verify` and to a plain `jwt.decode` with the same options
(the key picked by PyJWT's own JWKS handling from the same key set), with the same verdict.

The identifier claims (`sub`, `sid`, `role`, `jti`) stay well-formed text here: requiring
them non-empty is the platform's own rule on top of PyJWT, tested in test_verify.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chore_common.auth import InvalidToken, StaticKeys, TokenVerifier, thumbprint

ISS, AUD, LEEWAY = "chore-auth", "chore-platform", 5
KEY = Ed25519PrivateKey.generate()
KID = thumbprint(KEY.public_key())
STRANGER = Ed25519PrivateKey.generate()
PUBLIC_RAW = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
JWKS = jwt.PyJWKSet.from_dict(
    {"keys": [json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(KEY.public_key())) | {"kid": KID}]}
)
TOKENS = 1_000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64(json.dumps(value).encode())


def claims(rnd: random.Random) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "role": rnd.choice(["client", "tasker", "admin"]),
        "iat": now,
        "exp": now + 900,
        "iss": ISS,
        "aud": AUD,
        "jti": str(uuid.uuid4()),
    }


def ed_sign(header: dict[str, Any], payload: dict[str, Any], key: Ed25519PrivateKey = KEY) -> str:
    signing_input = f"{segment(header)}.{segment(payload)}"
    return f"{signing_input}.{b64(key.sign(signing_input.encode()))}"


# -- what can be wrong with a token: each takes a valid header and payload ----------------

Header = dict[str, Any]
Payload = dict[str, Any]


def _time_edge(rnd: random.Random, h: Header, p: Payload) -> str:
    now = int(time.time())
    name = rnd.choice(["exp", "iat", "nbf"])
    offset = rnd.choice([-3600, -LEEWAY - 2, -LEEWAY + 2, 0, LEEWAY - 2, LEEWAY + 2, 3600])
    p[name] = rnd.choice([now + offset, float(now + offset), str(now + offset), None, True])
    return ed_sign(h, p)


def _claim_gone(rnd: random.Random, h: Header, p: Payload) -> str:
    del p[rnd.choice(["sub", "sid", "role", "iat", "exp", "iss", "aud", "jti"])]
    return ed_sign(h, p)


def _audience_or_issuer(rnd: random.Random, h: Header, p: Payload) -> str:
    p[rnd.choice(["aud", "iss"])] = rnd.choice(
        ["other", "", None, 7, [AUD], ["other", AUD], ["other"], [], AUD.upper(), ISS]
    )
    return ed_sign(h, p)


def _algorithm(rnd: random.Random, h: Header, p: Payload) -> str:
    alg = rnd.choice(["none", "None", "HS256", "RS256", "ES256", "eddsa", "EdDSA", "", None])
    h["alg"] = alg
    body = f"{segment(h)}.{segment(p)}"
    if alg == "HS256":  # the classic: the public key as an HMAC secret
        return f"{body}.{b64(hmac.new(PUBLIC_RAW, body.encode(), hashlib.sha256).digest())}"
    if alg in ("none", "None", "", None):
        return f"{body}."
    return f"{body}.{b64(KEY.sign(body.encode()))}"


def _key_id(rnd: random.Random, h: Header, p: Payload) -> str:
    choice = rnd.choice(["unknown", "missing", "empty", "number", "stranger"])
    if choice == "unknown":
        h["kid"] = "not-a-known-kid"
    elif choice == "missing":
        del h["kid"]
    elif choice == "empty":
        h["kid"] = ""
    elif choice == "number":
        h["kid"] = 42
    else:
        return ed_sign(h, p, STRANGER)  # a known kid, another key's signature
    return ed_sign(h, p)


def _header_extras(rnd: random.Random, h: Header, p: Payload) -> str:
    h.update(
        rnd.choice(
            [{"crit": ["exp"], "exp": 1}, {"crit": []}, {"b64": False}, {"typ": "at+jwt"},
             {"typ": 7}, {"jku": "https://evil.example/jwks"}, {"x5u": "https://e.example"}]
        )
    )  # fmt: skip
    return ed_sign(h, p)


def _structure(rnd: random.Random, h: Header, p: Payload) -> str:
    token = ed_sign(h, p)
    head, body, sig = token.split(".")
    return rnd.choice(
        [
            f"{head}.{body}",
            f"{head}.{body}.{sig}.",
            f"{head}.{body}.{sig}.{sig}",
            f"{head}=.{body}.{sig}",
            f"{head}.{body}.{sig}==",
            f" {token}",
            f"{token}\n",
            f"{head}.{body}.{sig[:-4]}",
            f"{head}.{body}.{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}",
            f"{head}.{body}.{sig[:10]}*{sig[11:]}",
            f"{head}.{b64(b'[1, 2, 3]')}.{sig}",
            f"{head}.{b64(b'not json')}.{sig}",
            f"{b64(b'not json')}.{body}.{sig}",
            f"{head}.{body[:-2]}.{sig}",
            "",
            "..",
            "a.b.c",
            token.replace("-", "+").replace("_", "/"),
        ]
    )


def _payload_shape(rnd: random.Random, h: Header, p: Payload) -> str:
    shape = rnd.choice([b"[]", b"null", b"1", b'"x"', b"{}"])
    signing_input = f"{segment(h)}.{b64(shape)}"
    return f"{signing_input}.{b64(KEY.sign(signing_input.encode()))}"


def _valid(rnd: random.Random, h: Header, p: Payload) -> str:
    if rnd.random() < 0.5:
        p["extra"] = rnd.choice(["x", 1, None, {"nested": [1, 2]}])
    return ed_sign(h, p)


MUTATIONS: list[Callable[[random.Random, Header, Payload], str]] = [
    _valid, _time_edge, _claim_gone, _audience_or_issuer, _algorithm, _key_id,
    _header_extras, _structure, _payload_shape,
]  # fmt: skip


def generated_tokens(count: int, seed: int = 20261206) -> list[str]:
    rnd = random.Random(seed)
    tokens = []
    for _ in range(count):
        header: Header = {"alg": "EdDSA", "typ": "JWT", "kid": KID}
        tokens.append(rnd.choice(MUTATIONS)(rnd, header, claims(rnd)))
    return tokens


def plain_decode(token: str) -> bool:
    """PyJWT on its own: the key its JWKS handling picks for the header's kid."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = JWKS[kid].key if isinstance(kid, str) and kid else None
        if key is None:
            return False
        jwt.decode(
            token,
            key,
            algorithms=["EdDSA"],
            audience=AUD,
            issuer=ISS,
            leeway=LEEWAY,
            options={"require": ["sub", "sid", "role", "iat", "exp", "iss", "aud", "jti"]},
        )
    except (jwt.InvalidTokenError, KeyError):
        return False
    return True


async def platform_verify(verifier: TokenVerifier, token: str) -> bool:
    try:
        await verifier.verify(token)
    except InvalidToken:
        return False
    return True


async def test_the_verifier_accepts_and_refuses_exactly_what_jwt_decode_does() -> None:
    verifier = TokenVerifier(
        StaticKeys({KID: KEY.public_key()}),
        issuer=ISS,
        audience=AUD,
        leeway_s=LEEWAY,
        cache_size=0,  # every token verified in full
    )
    tokens = generated_tokens(TOKENS)
    disagreements = []
    accepted = 0
    for token in tokens:
        ours, theirs = await platform_verify(verifier, token), plain_decode(token)
        accepted += ours
        if ours != theirs:
            disagreements.append((token, ours, theirs))
    assert disagreements == []
    # Both verdicts occur often enough for the comparison to mean something.
    assert 100 < accepted < TOKENS - 300


@pytest.mark.parametrize("token", generated_tokens(50, seed=7)[:5])
async def test_a_cached_verdict_is_the_verdict_of_a_full_verification(token: str) -> None:
    cached = TokenVerifier(StaticKeys({KID: KEY.public_key()}), issuer=ISS, audience=AUD)
    first = await platform_verify(cached, token)
    assert await platform_verify(cached, token) == first == plain_decode(token)
