"""`chore-messaging`: operator commands.

chore-messaging migrate     apply migrations (alembic upgrade head; URL from MESSAGING_DATABASE_URL)
chore-messaging serve       same as python -m chore_messaging
"""

from __future__ import annotations

from chore_common.cli import storage_cli
from chore_messaging.app import MIGRATIONS, create_app
from chore_messaging.settings import MessagingSettings


def main(argv: list[str] | None = None) -> None:
    storage_cli("messaging", __doc__, MessagingSettings, create_app, MIGRATIONS, argv)


if __name__ == "__main__":
    main()
