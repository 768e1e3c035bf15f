"""`Idempotency-Key` on creating POSTs: the same key and body within 24 h get the first
response again (with `Idempotent-Replayed: true`); the same key with another body is 422.

```python
@routes.post("/tasks", ...)
@requires("client")
@idempotent                       # innermost: the gate marks the wrapper
async def create_task(request: web.Request) -> web.Response: ...

app.cleanup_ctx.append(idempotency_context(lambda a: SqlIdempotencyStore(a[ENGINE])))
```

A key is scoped by who asks (the principal's user id, or `anonymous`), the method and the
concrete path, so two users' keys never collide and one key on two tasks' offers is two
keys. The body fingerprint is the sha256 of the canonical JSON (sorted keys, no spaces);
a body with a secret in it (a `password` field on sign-up) is fingerprinted with scrypt
instead, salted by the scope and key, off the event loop: a stored fingerprint must not be
an easier way to guess a password than the stored argon2id hash. The body is validated
against the route's declared model first, so a request the handler would refuse (415, 400,
413, 422) costs no scrypt and claims no key: an anonymous client cannot buy 16 MiB and
40 ms of hashing with a body that creates nothing.

Order of writes, and the trade-off: the key is *claimed* (a row without a response) in its
own transaction before the handler runs, and the 2xx response is stored after it. The
claim's primary key is what stops two concurrent requests with one key from both creating:
the loser polls for up to `wait_s`, then replays or gets 409 `idempotency_in_progress`.
Writing the key in the resource's own transaction would need every use case to carry the
response through its unit of work; instead a crash between the resource's commit and the
response's store leaves a claim without a response. Retries get 409 until the claim is
older than `lease_s`, after which one retry runs the handler again: only that crash window
(one database round trip) can produce a duplicate. A failed or non-2xx request releases its
claim, so the client may retry with the same key.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Final, overload

from aiohttp import web
from aiohttp.typedefs import Handler

from chore_common.auth.principal import PRINCIPAL
from chore_common.http.openapi import IDEMPOTENT_ATTR, OPERATION_ATTR
from chore_common.http.problem import HttpProblem
from chore_common.http.validation import parse_body, read_body
from chore_common.idempotency.store import IdempotencyStore, StoredResponse
from chore_common.telemetry.logs import is_sensitive

log = logging.getLogger(__name__)

HEADER: Final = "Idempotency-Key"
REPLAYED: Final = "Idempotent-Replayed"
TTL: Final = timedelta(hours=24)
KEPT_HEADERS: Final = ("Content-Type", "ETag", "Location", "Cache-Control")
MAX_KEY_LENGTH: Final = 255


IDEMPOTENCY: Final = web.AppKey("chore.idempotency", IdempotencyStore)


def valid_key(key: str) -> bool:
    return 1 <= len(key) <= MAX_KEY_LENGTH and all(" " <= c <= "~" for c in key)


# scrypt at n=2**14, r=8: 16 MiB and ~40 ms a hash, the cost class of argon2id at ASVS settings.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024, "dklen": 32}


def fingerprint(body: bytes) -> str:
    """sha256 of the body's canonical JSON; of the raw bytes when it is not JSON."""
    canonical = _canonical(body)
    return hashlib.sha256(body if canonical is None else canonical).hexdigest()


def secret_fingerprint(body: bytes, salt: str) -> str:
    """The fingerprint of a body that holds a secret: slow and salted (module docstring)."""
    canonical = _canonical(body) or body
    # 64 hex characters like sha256: the column holds either; one body always gets one kind.
    return hashlib.scrypt(canonical, salt=salt.encode(), **_SCRYPT).hex()


def holds_secret(body: bytes) -> bool:
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and any(is_sensitive(str(k)) for k in parsed)


def _canonical(body: bytes) -> bytes | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


async def _fingerprint(body: bytes, salt: str) -> str:
    if holds_secret(body):
        return await asyncio.to_thread(secret_fingerprint, body, salt)
    return fingerprint(body)


def scope_of(request: web.Request) -> str:
    who = request.get(PRINCIPAL)
    return f"{who.user_id if who is not None else 'anonymous'} {request.method} {request.path}"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _replay(stored: StoredResponse) -> web.Response:
    response = web.Response(status=stored.status, body=stored.body)
    # Set after construction: aiohttp would otherwise add its own Content-Type beside it.
    response.headers.update(stored.headers)
    response.headers[REPLAYED] = "true"
    return response


def _reused() -> HttpProblem:
    return HttpProblem(
        422,
        code="idempotency_key_reused",
        title="Unprocessable Content",
        detail="This Idempotency-Key was used with a different request body.",
    )


def _in_progress() -> HttpProblem:
    return HttpProblem(
        409,
        code="idempotency_in_progress",
        detail="A request with this Idempotency-Key is still being processed; retry shortly.",
        headers={"Retry-After": "1"},
    )


async def _claim_or_answer(
    store: IdempotencyStore, scope: str, key: str, digest: str, *, wait_s: float, lease_s: float
) -> web.Response | None:
    """None once this request owns the key; else the response to give instead."""
    deadline = time.monotonic() + wait_s
    while True:
        now = datetime.now(UTC)
        found = await store.claim(scope, key, digest, now)
        if found is None:
            return None
        created = _aware(found.created_at)
        if created <= now - TTL:
            if await store.take_over(scope, key, digest, found.created_at, now):
                return None
            continue
        if found.fingerprint != digest:
            raise _reused()
        if found.response is not None:
            return _replay(found.response)
        if created <= now - timedelta(seconds=lease_s):
            if await store.take_over(scope, key, digest, found.created_at, now):
                return None
            continue
        if time.monotonic() >= deadline:
            raise _in_progress()
        await asyncio.sleep(0.05)


async def _validate_declared_body(handler: Handler, request: web.Request) -> None:
    """Refuse a body the route's declared model refuses, as the handler would (problem+json),
    before the key costs anything. Routes declared without a model skip this."""
    for op in getattr(handler, OPERATION_ATTR, ()):
        if op.method == request.method and op.body is not None:
            await parse_body(request, op.body)  # aiohttp keeps the bytes for the handler


def _storable(response: web.StreamResponse) -> StoredResponse | None:
    if not 200 <= response.status < 300 or not isinstance(response, web.Response):
        return None
    body = response.body
    if not isinstance(body, bytes):
        return None
    headers = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
    return StoredResponse(response.status, headers, body)


async def _settle(step: Awaitable[None], failure: str) -> None:
    """Finish the key's bookkeeping without changing the answer.

    Shielded: a client that hangs up must not leave the key claimed. A failure is logged,
    not raised: the handler's work is done (or refused), and a lingering claim only makes
    retries wait out the lease.
    """
    try:
        await asyncio.shield(step)
    except Exception:
        log.exception(failure)


@overload
def idempotent(handler: Handler) -> Handler: ...
@overload
def idempotent(
    handler: None = None, *, wait_s: float = ..., lease_s: float = ...
) -> Callable[[Handler], Handler]: ...


def idempotent(
    handler: Handler | None = None, *, wait_s: float = 2.0, lease_s: float = 60.0
) -> Handler | Callable[[Handler], Handler]:
    """Make a creating handler honour `Idempotency-Key` (see the module docstring).

    Without the header the handler runs as before. The key must be 1..255 printable ASCII
    characters (else 400 `invalid_idempotency_key`).
    """

    def wrap(inner: Handler) -> Handler:
        @functools.wraps(inner)
        async def run(request: web.Request) -> web.StreamResponse:
            key = request.headers.get(HEADER)
            if key is None:
                return await inner(request)
            if not valid_key(key):
                raise HttpProblem(
                    400,
                    code="invalid_idempotency_key",
                    detail="Idempotency-Key must be 1 to 255 printable ASCII characters.",
                )
            await _validate_declared_body(run, request)
            raw = await read_body(request)
            scope = scope_of(request)
            digest = await _fingerprint(raw, f"{scope} {key}")
            store = request.app[IDEMPOTENCY]
            answer = await _claim_or_answer(
                store, scope, key, digest, wait_s=wait_s, lease_s=lease_s
            )
            if answer is not None:
                return answer
            try:
                response = await inner(request)
            except BaseException:
                await _settle(store.release(scope, key), "idempotency.release_failed")
                raise
            stored = _storable(response)
            if stored is None:
                await _settle(store.release(scope, key), "idempotency.release_failed")
            else:
                await _settle(store.complete(scope, key, stored), "idempotency.store_failed")
            return response

        setattr(run, IDEMPOTENT_ATTR, True)
        return run

    return wrap(handler) if handler is not None else wrap


def idempotency_context(
    make_store: Callable[[web.Application], IdempotencyStore],
    *,
    prune_every_s: float = 3600.0,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx (after the database's) that provides the store and prunes keys older
    than 24 h now and every `prune_every_s`."""

    async def prune_forever(store: IdempotencyStore) -> None:
        while True:
            try:
                dropped = await store.prune(datetime.now(UTC) - TTL)
                if dropped:
                    log.info("idempotency.pruned", extra={"rows": dropped})
            except Exception:  # the next round tries again; replays do not depend on it
                log.exception("idempotency.prune_failed")
            await asyncio.sleep(prune_every_s)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        store = app[IDEMPOTENCY] = make_store(app)
        pruner = asyncio.create_task(prune_forever(store), name="idempotency-prune")
        yield
        pruner.cancel()
        await asyncio.gather(pruner, return_exceptions=True)

    return ctx
