"""The auth service over real HTTP, a real database and a real nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from chore_auth.app import create_app
from chore_auth.settings import AuthSettings
from chore_common.testing.apps import StartApp, app_starter
from chore_common.testing.nats import NatsServer

from .helpers import PASSWORD, Account, Client, bearer, login, unique_email


@pytest.fixture
def auth_settings(database_url: str, nats_server: NatsServer, tmp_path: Path) -> AuthSettings:
    return AuthSettings(
        database_url=database_url,
        nats_url=nats_server.url,
        var_dir=tmp_path,
        migrate_on_start=True,
        hash_threads=2,
        login_account_max_failures=3,
        login_ip_max_failures=6,
        login_window_s=60,
        keys_reload_s=0.2,
    )


@pytest.fixture
async def start_auth(auth_settings: AuthSettings) -> AsyncIterator[StartApp]:
    """Start an auth app (optionally with changed settings) on a free port."""
    async with app_starter(create_app, auth_settings) as start:
        yield start


@pytest.fixture
async def auth(start_auth: StartApp) -> Client:
    return await start_auth()


def jwks_url(auth: Client) -> str:
    return f"http://127.0.0.1:{auth.port}/auth/.well-known/jwks.json"


@pytest.fixture
def second_database(database_factory: Callable[[], str]) -> str:
    """Another service's own database (made outside the event loop: PostgreSQL's is made
    with a loop of its own)."""
    return database_factory()


@pytest.fixture
async def start_tasks(
    auth: Client, second_database: str, nats_server: NatsServer, tmp_path: Path
) -> AsyncIterator[StartApp]:
    """The real tasks service, verifying auth's real tokens (its JWKS, its revocations)."""
    from chore_tasks.app import create_app as create_tasks
    from chore_tasks.settings import TasksSettings

    settings = TasksSettings(
        database_url=second_database,
        nats_url=nats_server.url,
        var_dir=tmp_path / "tasks",
        jwks_url=jwks_url(auth),
        migrate_on_start=True,
    )
    async with app_starter(create_tasks, settings) as start:
        yield start


@pytest.fixture
async def start_messaging(
    auth: Client, second_database: str, nats_server: NatsServer, tmp_path: Path
) -> AsyncIterator[StartApp]:
    """Real messaging replicas (one database, one NATS) verifying auth's real tokens."""
    from chore_messaging.app import create_app as create_messaging
    from chore_messaging.settings import MessagingSettings

    settings = MessagingSettings(
        database_url=second_database,
        nats_url=nats_server.url,
        var_dir=tmp_path / "messaging",
        jwks_url=jwks_url(auth),
        migrate_on_start=True,
        consumer_enabled=False,
        shutdown_grace_s=2,
    )
    async with app_starter(create_messaging, settings) as start:
        yield start


@pytest.fixture
async def admin(auth: Client, auth_settings: AuthSettings) -> dict[str, str]:
    """Headers of a signed-in admin, made the operator's way (chore-auth create-admin)."""
    from chore_auth.bootstrap import command_uow, password_hasher
    from chore_auth.domain.model import Role
    from chore_auth.usecases import accounts
    from chore_common.clock import utcnow

    email = unique_email("admin")
    cmd = accounts.Register(email=email, password=PASSWORD, name="Ada Admin", role=Role.ADMIN)
    hasher = password_hasher(auth_settings, threads=1)
    try:
        async with command_uow(auth_settings) as uow:
            user = await accounts.register(uow, hasher, cmd, now=utcnow(), operator=True)
    finally:
        hasher.close()
    tokens = await login(auth, Account(str(user.id), email, PASSWORD, "admin"))
    return bearer(tokens["access_token"])
