from __future__ import annotations

import pytest

from chore_gateway.domain.retries import Failure, may_retry


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def test_a_refused_connection_may_go_elsewhere_whatever_the_method(method: str) -> None:
    assert may_retry(Failure.CONNECT, method, idempotency_key=False)


def test_after_a_reset_only_what_is_safe_to_repeat_goes_again() -> None:
    assert may_retry(Failure.RESET, "GET", idempotency_key=False)
    assert may_retry(Failure.RESET, "HEAD", idempotency_key=False)
    assert may_retry(Failure.RESET, "POST", idempotency_key=True)
    assert not may_retry(Failure.RESET, "POST", idempotency_key=False)
    # Only creating POSTs honour Idempotency-Key in the services.
    for method in ("PUT", "PATCH", "DELETE"):
        assert not may_retry(Failure.RESET, method, idempotency_key=True)
