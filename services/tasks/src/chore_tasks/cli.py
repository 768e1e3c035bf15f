"""`chore-tasks`: operator commands.

    chore-tasks migrate     apply migrations (alembic upgrade head; URL from TASKS_DATABASE_URL)
    chore-tasks serve       same as python -m chore_tasks

Admins are accounts with role `admin`, created with `chore-auth admin create`.
"""

from __future__ import annotations

from chore_common.cli import storage_cli
from chore_tasks.app import MIGRATIONS, create_app
from chore_tasks.settings import TasksSettings


def main(argv: list[str] | None = None) -> None:
    storage_cli("tasks", __doc__, TasksSettings, create_app, MIGRATIONS, argv)


if __name__ == "__main__":
    main()
