"""The auth service over real HTTP, a real database and a real nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chore_auth.app import create_app
from chore_auth.settings import AuthSettings
from chore_common.testing.apps import StartApp, app_starter
from chore_common.testing.nats import NatsServer

from .helpers import Client


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
