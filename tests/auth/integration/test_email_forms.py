"""One account per mailbox however the address is spelled: composed or decomposed accents,
full-width letters, invisible characters and case all name the same account; addresses
stored before this rule are rewritten by migration 0005."""

from __future__ import annotations

import asyncio
import unicodedata
import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import insert, select

from chore_auth.adapters.tables import users
from chore_auth.app import MIGRATIONS
from chore_common.db import create_engine
from chore_common.db.migrations import alembic_config

from .helpers import PASSWORD, Account, Client, login, register

pytestmark = pytest.mark.db


def spellings() -> tuple[str, list[str]]:
    """An address and other ways to type the same mailbox."""
    tag = uuid.uuid4().hex[:8]
    composed = unicodedata.normalize("NFC", f"josé.{tag}@example.com")
    return composed, [
        unicodedata.normalize("NFD", composed),  # é as e + U+0301
        composed.replace("@", "\u200b@"),  # a zero-width space
        "\ufeff" + composed.replace(".", "\u00ad.", 1),  # a BOM and a soft hyphen
        composed.upper(),
        "".join(chr(ord(c) + 0xFEE0) if "a" <= c <= "z" else c for c in composed),  # full width
    ]


async def test_every_spelling_of_a_mailbox_is_one_account(auth: Client) -> None:
    email, others = spellings()
    account = await register(auth, email=email)
    for other in others:
        resp = await auth.post(
            "/auth/register",
            json={"email": other, "password": PASSWORD, "name": "Twin", "role": "client"},
        )
        assert resp.status == 409, other.encode("unicode_escape")
        assert (await resp.json())["code"] == "email_taken"
        tokens = await login(auth, Account(account.id, other, PASSWORD, "client"))
        assert tokens["access_token"]


async def test_the_stored_address_is_the_normal_form(auth: Client) -> None:
    email, others = spellings()
    resp = await auth.post(
        "/auth/register",
        json={"email": others[1], "password": PASSWORD, "name": "Pat", "role": "client"},
    )
    assert resp.status == 201
    assert (await resp.json())["email"] == email


async def test_an_address_that_is_only_invisible_characters_before_the_at_is_422(
    auth: Client,
) -> None:
    resp = await auth.post(
        "/auth/register",
        json={
            "email": "\u200b\u200d@example.com",
            "password": PASSWORD,
            "name": "X",
            "role": "client",
        },
    )
    assert resp.status == 422
    assert (await resp.json())["code"] == "invalid_email"


async def test_migration_0005_rewrites_stored_addresses_and_leaves_clashes_alone(
    database_url: str,
) -> None:
    config = alembic_config(database_url, MIGRATIONS)
    await asyncio.to_thread(command.upgrade, config, "0004")
    email, others = spellings()
    alone, twin_a, twin_b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    clash = f"clash-{uuid.uuid4().hex[:8]}@example.com"
    now = datetime.now(UTC)
    rows = [(alone, others[0]), (twin_a, clash), (twin_b, clash.replace("@", "\u200b@"))]
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            for user_id, stored in rows:
                await conn.execute(
                    insert(users).values(
                        id=user_id, email=stored, name="Old", role="client",
                        password_hash="$argon2id$old", created_at=now, updated_at=now,
                    )
                )  # fmt: skip
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as conn:
            found = dict((await conn.execute(select(users.c.id, users.c.email))).all())
    finally:
        await engine.dispose()
    assert found[alone] == email
    assert (found[twin_a], found[twin_b]) == (rows[1][1], rows[2][1])
