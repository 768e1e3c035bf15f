"""Migration 0006 moves existing accounts: they count as verified from their creation, are
active, and have an empty profile; the service then treats them like any other account."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from alembic import command
from sqlalchemy import insert, select

from chore_auth.adapters.tables import users
from chore_auth.app import MIGRATIONS
from chore_auth.bootstrap import password_hasher
from chore_auth.settings import AuthSettings
from chore_common.db import create_engine
from chore_common.db.migrations import alembic_config

from .helpers import PASSWORD, Account, Client, login

pytestmark = pytest.mark.db


async def test_existing_accounts_are_verified_active_and_can_post_after_0006(
    database_url: str, auth_settings: AuthSettings, start_auth: Callable[..., Awaitable[Client]]
) -> None:
    config = alembic_config(database_url, MIGRATIONS)
    await asyncio.to_thread(command.upgrade, config, "0005")
    hasher = password_hasher(auth_settings, threads=1)
    try:
        password_hash = await hasher.hash(PASSWORD)
    finally:
        hasher.close()
    user_id, email = uuid.uuid4(), f"old-{uuid.uuid4().hex[:8]}@example.com"
    created = datetime.now(UTC) - timedelta(days=400)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(users).values(
                    id=user_id, email=email, name="Old Timer", role="tasker",
                    password_hash=password_hash, created_at=created, updated_at=created,
                )
            )  # fmt: skip
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.id == user_id))).one()
    finally:
        await engine.dispose()
    assert row.email_verified_at == created
    assert (row.status, row.bio, row.city, row.skills, row.deleted_at) == (
        "active",
        "",
        "",
        [],
        None,
    )

    auth = await start_auth()
    tokens = await login(auth, Account(str(user_id), email, PASSWORD, "tasker"))
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["ev"] is True
    public = await (await auth.get(f"/auth/users/{user_id}")).json()
    assert (public["name"], public["skills"]) == ("Old Timer", [])
