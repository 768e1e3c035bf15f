"""`chore-auth`: operator commands.

    chore-auth migrate                         apply migrations (alembic upgrade head)
    chore-auth admin create --email E --name N create an admin (password from stdin or prompt)
    chore-auth keys rotate [--publish-delay S] publish a new signing key; it signs after S
    chore-auth keys list                       kids and their state (never the keys)
    chore-auth serve                           same as python -m chore_auth

Passwords are never taken from the command line, where `ps` and shell history would see them.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import timedelta

from chore_auth.adapters.signing import generate_key
from chore_auth.app import create_app, migrate
from chore_auth.bootstrap import command_uow, key_ring, password_hasher
from chore_auth.domain.model import Role
from chore_auth.settings import AuthSettings
from chore_auth.usecases import accounts, signing_keys
from chore_common.clock import utcnow
from chore_common.errors import DomainError
from chore_common.settings import load_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="chore-auth", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("serve", help="run the service")
    admin = sub.add_parser("admin", help="operator accounts").add_subparsers(
        dest="action", required=True
    )
    create = admin.add_parser("create", help="create an admin account")
    create.add_argument("--email", required=True)
    create.add_argument("--name", default="Administrator")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    key_cmds = sub.add_parser("keys", help="signing keys").add_subparsers(
        dest="action", required=True
    )
    rotate = key_cmds.add_parser("rotate", help="publish a new key that signs after a delay")
    rotate.add_argument(
        "--publish-delay",
        type=float,
        default=None,
        help="seconds between publishing and signing (default AUTH_KEY_PUBLISH_DELAY_S)",
    )
    key_cmds.add_parser("list", help="list key ids and their state")
    args = parser.parse_args(argv)

    settings = load_settings(AuthSettings)
    if args.command == "serve":
        from chore_common.serving import serve

        serve(create_app, settings)
        return
    if args.command == "migrate":
        migrate(settings)
        print("migrated")
        return
    try:
        if args.command == "admin":
            password = _read_password(args.password_stdin)
            asyncio.run(_create_admin(settings, args.email, args.name, password))
        elif args.action == "rotate":
            delay = (
                settings.key_publish_delay_s if args.publish_delay is None else args.publish_delay
            )
            asyncio.run(_rotate(settings, delay))
        else:
            asyncio.run(_list_keys(settings))
    except DomainError as exc:
        print(f"chore-auth: {exc.code}: {exc.detail}", file=sys.stderr)
        raise SystemExit(1) from None


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("chore-auth: passwords differ")
    return first


async def _create_admin(settings: AuthSettings, email: str, name: str, password: str) -> None:
    hasher = password_hasher(settings, threads=1)
    cmd = accounts.Register(email=email, password=password, name=name, role=Role.ADMIN)
    try:
        async with command_uow(settings) as uow:
            user = await accounts.register(uow, hasher, cmd, now=utcnow(), operator=True)
    finally:
        hasher.close()
    print(f"admin created: {user.id}")


async def _rotate(settings: AuthSettings, publish_delay_s: float) -> None:
    if settings.signing_key_file is not None:
        raise SystemExit(
            "chore-auth: keys come from files (AUTH_SIGNING_KEY_FILE); rotate them by moving "
            "the next key file into the current slot (see docs/auth.md)"
        )
    async with command_uow(settings) as uow:
        rotated = await signing_keys.rotate_keys(
            uow,
            generate_key,
            now=utcnow(),
            publish_delay=timedelta(seconds=publish_delay_s),
            keep_after_retire=timedelta(seconds=settings.access_ttl_s + settings.leeway_s),
        )
    print(f"published {rotated.kid}; it signs from {rotated.signs_from.isoformat()}")
    if rotated.pruned:
        print(f"removed {rotated.pruned} expired key(s)")


async def _list_keys(settings: AuthSettings) -> None:
    async with command_uow(settings) as uow:
        keyring = key_ring(settings, uow, from_files=False)
        await keyring.load()
        now = utcnow()
        signing = keyring.signing_key(now).kid
        for key in keyring.published(now):
            state = (
                "signing"
                if key.kid == signing
                else ("next" if key.activates_at > now else "retired")
            )
            print(f"{key.kid}  {state}  signs_from={key.activates_at.isoformat()}")


if __name__ == "__main__":
    main()
