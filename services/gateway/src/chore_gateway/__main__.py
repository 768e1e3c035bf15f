"""`python -m chore_gateway`: settings from the environment, then serve."""

from chore_common.serving import main
from chore_gateway.app import create_app
from chore_gateway.settings import GatewaySettings

if __name__ == "__main__":
    main(GatewaySettings, create_app)
