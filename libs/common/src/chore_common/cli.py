"""The operator commands every service that owns a database has, in one call:

    def main(argv: list[str] | None = None) -> None:
        storage_cli("tasks", __doc__, TasksSettings, create_app, MIGRATIONS, argv)

`chore-<service> migrate` applies the migrations (alembic upgrade head, URL from the
service's settings); `chore-<service> serve` runs it, like `python -m chore_<service>`.
A service with more commands (auth's admin and key commands) builds its own parser.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from aiohttp import web

from chore_common.db.migrations import upgrade_head
from chore_common.serving import serve
from chore_common.settings import ServiceSettings, load_settings

S = TypeVar("S", bound=ServiceSettings)


def storage_cli(
    service: str,
    doc: str | None,
    settings_cls: type[S],
    create_app: Callable[[S], web.Application],
    migrations: Path,
    argv: list[str] | None = None,
) -> None:
    """Parse `argv` and run `migrate` or `serve`; `doc` (the cli module's docstring) gives
    the help's first line."""
    description = doc.splitlines()[0] if doc else None
    parser = argparse.ArgumentParser(prog=f"chore-{service}", description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("serve", help="run the service")
    args = parser.parse_args(argv)
    settings = load_settings(settings_cls)
    if args.command == "migrate":
        upgrade_head(settings.database_url, migrations)
        print(f"{service}: database at head")
    else:
        serve(create_app, settings)
