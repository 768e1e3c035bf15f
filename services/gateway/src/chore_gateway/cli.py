"""`chore-gateway`: operator commands.

chore-gateway serve     same as python -m chore_gateway (GATEWAY_* settings)
"""

from __future__ import annotations

import argparse

from chore_common.serving import serve
from chore_common.settings import load_settings
from chore_gateway.app import create_app
from chore_gateway.settings import GatewaySettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="chore-gateway", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the gateway")
    parser.parse_args(argv)
    serve(create_app, load_settings(GatewaySettings))


if __name__ == "__main__":
    main()
