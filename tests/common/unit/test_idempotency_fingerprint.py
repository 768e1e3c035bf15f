"""Body fingerprints of Idempotency-Key: cheap for ordinary bodies, slow and salted for secrets."""

from __future__ import annotations

import hashlib
import json

from chore_common.idempotency.middleware import fingerprint, holds_secret, secret_fingerprint

SIGN_UP = json.dumps({"email": "a@example.com", "password": "correct horse battery"}).encode()


def test_the_same_json_in_another_key_order_or_spacing_is_the_same_body() -> None:
    a = fingerprint(b'{"title": "mow", "budget_cents": 1000}')
    b = fingerprint(b'{"budget_cents":1000,"title":"mow"}')
    assert a == b
    assert a != fingerprint(b'{"budget_cents":1001,"title":"mow"}')


def test_a_body_with_a_password_is_recognised_as_holding_a_secret() -> None:
    assert holds_secret(SIGN_UP)
    assert not holds_secret(b'{"title": "mow the lawn"}')
    assert not holds_secret(b"not json")


def test_a_secret_body_is_not_stored_as_a_plain_sha256_of_itself() -> None:
    canonical = json.dumps(json.loads(SIGN_UP), sort_keys=True, separators=(",", ":")).encode()
    stored = secret_fingerprint(SIGN_UP, "anonymous POST /auth/register key-1")
    assert stored != hashlib.sha256(canonical).hexdigest()
    assert stored != hashlib.sha256(SIGN_UP).hexdigest()
    assert len(stored) == 64  # fits the column a sha256 fingerprint uses


def test_secret_fingerprints_are_stable_per_key_and_differ_between_keys() -> None:
    one = secret_fingerprint(SIGN_UP, "anonymous POST /auth/register key-1")
    assert one == secret_fingerprint(SIGN_UP, "anonymous POST /auth/register key-1")
    assert one != secret_fingerprint(SIGN_UP, "anonymous POST /auth/register key-2")
