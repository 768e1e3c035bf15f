"""`chore-tasks`: operator commands.

    chore-tasks migrate     apply migrations (alembic upgrade head; URL from TASKS_DATABASE_URL)
    chore-tasks serve       same as python -m chore_tasks

Admins are accounts with role `admin`, created with `chore-auth admin create`.
"""

from __future__ import annotations

import argparse

from chore_common.serving import serve
from chore_common.settings import load_settings
from chore_tasks.app import create_app, migrate
from chore_tasks.settings import TasksSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="chore-tasks", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("serve", help="run the service")
    args = parser.parse_args(argv)
    settings = load_settings(TasksSettings)
    if args.command == "migrate":
        migrate(settings)
        print("tasks: database at head")
    else:
        serve(create_app, settings)


if __name__ == "__main__":
    main()
