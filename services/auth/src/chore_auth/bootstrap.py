"""The one place auth's adapters are built and handed to the app as ports (keys.py).

Auth's own resources start after the kit's (database, NATS, outbox relay): the unit of work,
the key ring, the password hasher, the token verifier with the revocation feed it reads, the
mailed links' base, and background loops (forgetting ended throttle windows, purging audit
entries older than a year, rereading database keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from aiohttp import web

from chore_auth.adapters.passwords import PasswordHasher
from chore_auth.adapters.refresh_tokens import RefreshTokenMint
from chore_auth.adapters.signing import KeyRing
from chore_auth.adapters.uow import AuthUnitOfWork
from chore_auth.domain.account_tokens import Purpose
from chore_auth.domain.sessions import SessionPolicy
from chore_auth.domain.throttle import LoginThrottle, ThrottlePolicy
from chore_auth.keys import (
    HASHER,
    KEYRING,
    LINKS,
    LOGIN_THROTTLE,
    ON_REVOKED,
    REFRESH_TOKENS,
    SESSION_POLICY,
    SPAWN,
    UOW,
)
from chore_auth.settings import AuthSettings
from chore_auth.usecases import audit, login
from chore_auth.usecases.commands import Links
from chore_common.auth.principal import VERIFIER
from chore_common.auth.revocation import RevocationFeed, RevokedSessions
from chore_common.auth.verify import TokenVerifier
from chore_common.bus.connection import NATS_CLIENT
from chore_common.clock import utcnow
from chore_common.db import ENGINE, create_engine
from chore_common.outbox.relay import RELAY

log = logging.getLogger(__name__)


def password_hasher(settings: AuthSettings, *, threads: int | None = None) -> PasswordHasher:
    return PasswordHasher(
        memory_kib=settings.argon2_memory_kib,
        time_cost=settings.argon2_time_cost,
        parallelism=settings.argon2_parallelism,
        threads=settings.hash_threads if threads is None else threads,
    )


def key_ring(
    settings: AuthSettings, uow: Callable[[], AuthUnitOfWork], *, from_files: bool = True
) -> KeyRing:
    """The signing keys: from the key files when set (and `from_files`), else the database."""
    files = (
        settings.signing_key_file,
        settings.next_signing_key_file,
        settings.previous_signing_key_file,
    )
    return KeyRing(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        token_ttl_s=settings.access_ttl_s,
        leeway_s=settings.leeway_s,
        files=files if from_files else (None, None, None),
        uow=uow,
    )


def session_policy(settings: AuthSettings) -> SessionPolicy:
    return SessionPolicy(
        access_ttl=timedelta(seconds=settings.access_ttl_s),
        refresh_ttl=timedelta(seconds=settings.refresh_ttl_s),
        reuse_grace=timedelta(seconds=settings.refresh_reuse_grace_s),
        require_verified_email=settings.require_verified_email,
    )


def links(settings: AuthSettings) -> Links:
    return Links(
        settings.public_url,
        {
            Purpose.PASSWORD_RESET: timedelta(seconds=settings.password_reset_ttl_s),
            Purpose.VERIFY_EMAIL: timedelta(seconds=settings.verify_email_ttl_s),
        },
        ThrottlePolicy(settings.reset_links_per_window, timedelta(seconds=settings.login_window_s)),
    )


def login_throttle(settings: AuthSettings) -> LoginThrottle:
    window = timedelta(seconds=settings.login_window_s)
    return LoginThrottle(
        per_address=ThrottlePolicy(settings.login_ip_max_failures, window),
        per_account=ThrottlePolicy(settings.login_account_max_failures, window),
    )


@asynccontextmanager
async def command_uow(settings: AuthSettings) -> AsyncIterator[Callable[[], AuthUnitOfWork]]:
    """Units of work for an operator command (cli.py), on an engine of its own."""
    engine = create_engine(settings.database_url, pool_size=2)
    try:
        # No relay here: the running service's relay picks the outbox rows up on its poll.
        yield lambda: AuthUnitOfWork(engine, producer=settings.service_name)
    finally:
        await engine.dispose()


def auth_context(settings: AuthSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx: auth's ports in the app's keys while it runs (after db, NATS, relay)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        def uow() -> AuthUnitOfWork:
            return AuthUnitOfWork(
                app[ENGINE], producer=settings.service_name, wake_relay=app[RELAY].wake
            )

        keyring = key_ring(settings, uow)
        await keyring.load()
        hasher = password_hasher(settings)
        revoked = RevokedSessions(token_ttl_s=settings.access_ttl_s, leeway_s=settings.leeway_s)
        app[VERIFIER] = TokenVerifier(
            keyring,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_s=settings.leeway_s,
            revoked=revoked,
        )
        app[UOW] = uow
        app[HASHER] = hasher
        app[KEYRING] = keyring
        app[REFRESH_TOKENS] = RefreshTokenMint()
        app[SESSION_POLICY] = session_policy(settings)
        app[LOGIN_THROTTLE] = login_throttle(settings)
        app[ON_REVOKED] = lambda sid: revoked.revoke(str(sid))
        app[LINKS] = links(settings)
        background = Background()
        app[SPAWN] = background.spawn
        feed = RevocationFeed(app[NATS_CLIENT], revoked)
        await feed.start()
        loops: list[Coroutine[Any, Any, None]] = [
            _forget_ended_windows_every(app, settings.login_window_s),
            _purge_audit_every(app, settings.audit_purge_every_s),
        ]
        if not keyring.from_files:
            loops.append(keyring.reload_every(settings.keys_reload_s))
        tasks = [asyncio.create_task(loop) for loop in loops]
        try:
            yield
        finally:
            await background.drain()
            await _cancel(tasks)
            await feed.stop()
            hasher.close()

    return ctx


class Background:
    """Work started by a request that its answer does not wait for; shutdown waits for it."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._run(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:  # nobody awaits it: the log line is its only report
            log.warning("auth.background_failed", exc_info=True)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)


async def _forget_ended_windows_every(app: web.Application, window_s: float) -> None:
    # Once a window: a counter lives at most two windows after its last failure.
    while True:
        await asyncio.sleep(window_s)
        try:
            dropped = await login.forget_ended_windows(app[UOW], app[LOGIN_THROTTLE], now=utcnow())
            if dropped:
                log.info("auth.login_failures_forgotten", extra={"rows": dropped})
        except Exception:  # the next round tries again; the throttle does not depend on it
            log.warning("auth.login_failures_forget_failed", exc_info=True)


async def _purge_audit_every(app: web.Application, every_s: float) -> None:
    # Every replica runs it: a delete of rows past the retention is the same on each, and
    # one that fails is redone on the next round.
    while True:
        try:
            dropped = await audit.purge(app[UOW], now=utcnow())
            if dropped:
                log.info("auth.audit_purged", extra={"rows": dropped})
        except Exception:
            log.warning("auth.audit_purge_failed", exc_info=True)
        await asyncio.sleep(every_s)


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
