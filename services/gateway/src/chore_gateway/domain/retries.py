"""When a failed upstream call may be sent again, once, to another replica.

Like Envoy's `retry_on: connect-failure,reset`, narrowed to what is safe here:

- the connection could not be made: nothing reached the replica, so any request may go
  to another one (if its body can be sent again);
- the connection broke after the request went out (reset, or an answer that never came
  whole): the replica may have acted on it, so only a request that is safe to repeat goes
  again: GET and HEAD, and a POST carrying an `Idempotency-Key` (the services answer a
  repeated key with the first answer, so it cannot create twice).

A complete answer from the upstream, whatever its status, is the client's answer: it is
never retried. Nor is a timeout: the request's deadline is spent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

SAFE_METHODS: Final = frozenset({"GET", "HEAD"})


class Failure(StrEnum):
    CONNECT = "connect"  # refused, unreachable, or no connection in time
    RESET = "reset"  # lost after the request was sent, or a malformed answer


def may_retry(failure: Failure, method: str, *, idempotency_key: bool) -> bool:
    """May a request that failed this way go to another replica (body permitting)?"""
    if failure is Failure.CONNECT:
        return True
    return method in SAFE_METHODS or (method == "POST" and idempotency_key)
