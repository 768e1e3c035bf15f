"""`python -m chore_auth`: settings from the environment, then serve."""

from chore_auth.app import create_app
from chore_auth.settings import AuthSettings
from chore_common.serving import main

if __name__ == "__main__":
    main(AuthSettings, create_app)
