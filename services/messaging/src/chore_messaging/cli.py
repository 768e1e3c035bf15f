"""`chore-messaging`: operator commands.

chore-messaging migrate     apply migrations (alembic upgrade head; URL from MESSAGING_DATABASE_URL)
chore-messaging serve       same as python -m chore_messaging
"""

from __future__ import annotations

import argparse

from chore_common.serving import serve
from chore_common.settings import load_settings
from chore_messaging.app import create_app, migrate
from chore_messaging.settings import MessagingSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="chore-messaging", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("serve", help="run the service")
    args = parser.parse_args(argv)
    settings = load_settings(MessagingSettings)
    if args.command == "migrate":
        migrate(settings)
        print("messaging: database at head")
    else:
        serve(create_app, settings)


if __name__ == "__main__":
    main()
