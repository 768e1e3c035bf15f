"""`create_app(settings)`: the auth service as an aiohttp application.

Resources start in order and stop in reverse: database, NATS (+ streams), outbox relay,
then auth's own (keys, password hasher, the revocation feed its verifier reads).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from chore_auth.adapters.passwords import PasswordHasher
from chore_auth.adapters.refresh_tokens import (
    hash_refresh_token,
    new_refresh_token,
    open_successor,
    seal_successor,
)
from chore_auth.adapters.signing import KeyRing
from chore_auth.adapters.uow import AuthUnitOfWork
from chore_auth.api.routes import routes
from chore_auth.domain.sessions import SessionPolicy
from chore_auth.domain.throttle import LoginThrottle, ThrottlePolicy
from chore_auth.keys import DEPS, HASHER, KEYRING, REVOKED
from chore_auth.settings import AuthSettings
from chore_auth.usecases import login
from chore_auth.usecases.deps import Deps
from chore_common.assembly import storage_app
from chore_common.auth.principal import VERIFIER, bearer_middleware
from chore_common.auth.revocation import RevocationFeed, RevokedSessions
from chore_common.auth.verify import TokenVerifier
from chore_common.bus.connection import NATS_CLIENT
from chore_common.db import ENGINE
from chore_common.db.migrations import upgrade_head
from chore_common.outbox.relay import RELAY

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
log = logging.getLogger(__name__)


def migrate(settings: AuthSettings) -> None:
    upgrade_head(settings.database_url, MIGRATIONS)


def create_app(settings: AuthSettings) -> web.Application:
    # Auth verifies its own tokens: its verifier reads the key ring (see _auth_context).
    app = storage_app(settings, migrations=MIGRATIONS, verifier=False)
    app.add_routes(routes)
    app.middlewares.append(bearer_middleware)
    app.cleanup_ctx.append(_auth_context(settings))
    return app


async def _forget_ended_windows_every(deps: Deps, settings: AuthSettings) -> None:
    # Once a window: a counter lives at most two windows after its last failure.
    while True:
        await asyncio.sleep(settings.login_window_s)
        try:
            dropped = await login.forget_ended_windows(deps, now=datetime.now(UTC))
            if dropped:
                log.info("auth.login_failures_forgotten", extra={"rows": dropped})
        except Exception:  # the next round tries again; the throttle does not depend on it
            log.warning("auth.login_failures_forget_failed", exc_info=True)


def _auth_context(settings: AuthSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        def uow() -> AuthUnitOfWork:
            return AuthUnitOfWork(
                app[ENGINE], producer=settings.service_name, wake_relay=app[RELAY].wake
            )

        keyring = KeyRing(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            token_ttl_s=settings.access_ttl_s,
            leeway_s=settings.leeway_s,
            files=(
                settings.signing_key_file,
                settings.next_signing_key_file,
                settings.previous_signing_key_file,
            ),
            uow=uow,
        )
        await keyring.load()
        hasher = PasswordHasher(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
            threads=settings.hash_threads,
        )
        revoked = RevokedSessions(token_ttl_s=settings.access_ttl_s, leeway_s=settings.leeway_s)
        verifier = TokenVerifier(
            keyring,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_s=settings.leeway_s,
            revoked=revoked,
        )
        app[KEYRING] = keyring
        app[HASHER] = hasher
        app[REVOKED] = revoked
        app[VERIFIER] = verifier
        app[DEPS] = Deps(
            uow=uow,
            hasher=hasher,
            signer=keyring,
            tokens=verifier,
            new_refresh_token=new_refresh_token,
            hash_refresh_token=hash_refresh_token,
            seal_successor=seal_successor,
            open_successor=open_successor,
            sessions=SessionPolicy(
                access_ttl=timedelta(seconds=settings.access_ttl_s),
                refresh_ttl=timedelta(seconds=settings.refresh_ttl_s),
                reuse_grace=timedelta(seconds=settings.refresh_reuse_grace_s),
            ),
            login_throttle=LoginThrottle(
                per_address=ThrottlePolicy(
                    settings.login_ip_max_failures, timedelta(seconds=settings.login_window_s)
                ),
                per_account=ThrottlePolicy(
                    settings.login_account_max_failures, timedelta(seconds=settings.login_window_s)
                ),
            ),
            on_revoked=lambda sid: revoked.revoke(str(sid)),
        )
        feed = RevocationFeed(app[NATS_CLIENT], revoked)
        await feed.start()
        tasks = [asyncio.create_task(_forget_ended_windows_every(app[DEPS], settings))]
        if not keyring.from_files:
            tasks.append(asyncio.create_task(keyring.reload_every(settings.keys_reload_s)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await feed.stop()
            hasher.close()

    return ctx
