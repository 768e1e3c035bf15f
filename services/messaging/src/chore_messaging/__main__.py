"""`python -m chore_messaging`: settings from the environment, then serve."""

from chore_common.serving import main
from chore_messaging.app import create_app
from chore_messaging.settings import MessagingSettings

if __name__ == "__main__":
    main(MessagingSettings, create_app)
