"""Key rotation without downtime, and the operator CLI (`chore-auth`)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from chore_common.auth import JwksCache, TokenVerifier

from .helpers import PASSWORD, Account, Client, bearer, login, register

pytestmark = pytest.mark.db

CLI = Path(sys.executable).with_name("chore-auth")


def kid_of(token: str) -> str:
    head = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"])


async def chore_auth(database_url: str, *args: str, stdin: str = "") -> tuple[int, str]:
    env = {**os.environ, "AUTH_DATABASE_URL": database_url}
    proc = await asyncio.create_subprocess_exec(
        str(CLI),
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    return proc.returncode or 0, out.decode()


async def jwks_kids(auth: Client) -> list[str]:
    keys = (await (await auth.get("/auth/.well-known/jwks.json")).json())["keys"]
    return [k["kid"] for k in keys]


async def wait_until(check: Callable[[], Awaitable[bool]], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_rotation_publishes_first_signs_later_and_keeps_old_tokens_valid(
    auth: Client, database_url: str
) -> None:
    account = await register(auth)
    before = (await login(auth, account))["access_token"]
    old_kid = kid_of(before)
    jwks_url = f"http://127.0.0.1:{auth.port}/auth/.well-known/jwks.json"
    other_service = JwksCache(jwks_url, min_refresh_interval_s=0)
    verifier = TokenVerifier(other_service, issuer="chore-auth", audience="chore-platform")
    await other_service.start()  # caches the JWKS as it is before the rotation
    try:
        assert other_service.kids == {old_kid}
        code, out = await chore_auth(database_url, "keys", "rotate", "--publish-delay", "3")
        assert code == 0, out
        new_kid = out.split()[1].rstrip(";")
        rotated_at = time.monotonic()

        async def published() -> bool:
            return await jwks_kids(auth) == [old_kid, new_kid]

        await wait_until(published)
        # Published but not signing yet: verifiers get time to see it first.
        during = (await login(auth, account))["access_token"]
        if time.monotonic() - rotated_at < 2.5:
            assert kid_of(during) == old_kid

        async def signing_with_new_key() -> bool:
            return kid_of((await login(auth, account))["access_token"]) == new_kid

        await wait_until(signing_with_new_key, within_s=10)
        after = (await login(auth, account))["access_token"]
        # Old tokens stay valid until they expire; the old key is still published.
        assert (await auth.get("/auth/me", headers=bearer(before))).status == 200
        assert await jwks_kids(auth) == [old_kid, new_kid]
        # A verifier holding the old JWKS picks the new key up on first sight of its kid.
        assert (await verifier.verify(after)).kid == new_kid
        assert (await verifier.verify(before)).kid == old_kid
        assert other_service.kids == {old_kid, new_kid}
    finally:
        await other_service.close()


async def test_keys_list_names_the_signing_key_and_never_prints_key_material(
    auth: Client, database_url: str
) -> None:
    account = await register(auth)
    kid = kid_of((await login(auth, account))["access_token"])
    code, out = await chore_auth(database_url, "keys", "list")
    assert code == 0, out
    assert f"{kid}  signing" in out
    assert "PRIVATE KEY" not in out


async def test_admin_create_makes_an_admin_who_can_log_in(auth: Client, database_url: str) -> None:
    email = f"root-{time.monotonic_ns()}@example.com"
    code, out = await chore_auth(
        database_url, "admin", "create", "--email", email, "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert code == 0, out
    assert PASSWORD not in out
    admin = Account(id=out.split()[-1], email=email, password=PASSWORD, role="admin")
    tokens = await login(auth, admin)
    me = await (await auth.get("/auth/me", headers=bearer(tokens["access_token"]))).json()
    assert (me["email"], me["role"]) == (email, "admin")

    code, out = await chore_auth(
        database_url, "admin", "create", "--email", email, "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert code == 1
    assert "email_taken" in out


@pytest.fixture
def empty_database(database_factory: Callable[[], str]) -> str:
    return database_factory()


async def test_migrate_brings_an_empty_database_to_the_current_schema(
    empty_database: str, start_auth: Callable[..., Awaitable[Client]]
) -> None:
    empty = empty_database
    code, out = await chore_auth(empty, "migrate")
    assert code == 0, out
    code, out = await chore_auth(empty, "migrate")  # idempotent
    assert code == 0, out
    auth = await start_auth(database_url=empty, migrate_on_start=False)
    await register(auth)


async def test_replicas_starting_together_on_an_empty_key_table_agree_on_one_key(
    empty_database: str, start_auth: Callable[..., Awaitable[Client]]
) -> None:
    """`make run REPLICAS=2` and a fresh deployment start auth replicas side by side. Had
    each generated a first key of its own, one would sign with a key the other does not
    publish until its next reload, and verifiers that fetched the other's JWKS would
    answer 401 "unknown key"."""
    code, out = await chore_auth(empty_database, "migrate")
    assert code == 0, out
    replicas = await asyncio.gather(
        *(start_auth(database_url=empty_database, migrate_on_start=False) for _ in range(3))
    )
    published = [await jwks_kids(replica) for replica in replicas]
    assert len(published[0]) == 1
    assert published == [published[0]] * len(replicas)
    account = await register(replicas[0])
    for replica in replicas:
        token = (await login(replica, account))["access_token"]
        assert kid_of(token) == published[0][0]


async def test_keys_from_secret_files_sign_with_current_and_publish_all_three_slots(
    start_auth: Callable[..., Awaitable[Client]], tmp_path: Path
) -> None:
    from chore_auth.adapters.signing import generate_key

    slots = {}
    for slot in ("current", "next", "previous"):
        kid, pem = generate_key()
        (tmp_path / f"{slot}.pem").write_text(pem)
        slots[slot] = kid
    auth = await start_auth(
        signing_key_file=tmp_path / "current.pem",
        next_signing_key_file=tmp_path / "next.pem",
        previous_signing_key_file=tmp_path / "previous.pem",
    )
    assert sorted(await jwks_kids(auth)) == sorted(slots.values())
    account = await register(auth)
    token = (await login(auth, account))["access_token"]
    assert kid_of(token) == slots["current"]
    assert (await auth.get("/auth/me", headers=bearer(token))).status == 200
    jwks = await (await auth.get("/auth/.well-known/jwks.json")).text()
    assert "PRIVATE" not in jwks
    assert '"d"' not in jwks
