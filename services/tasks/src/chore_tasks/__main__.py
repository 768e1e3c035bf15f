"""`python -m chore_tasks`: settings from the environment, then serve."""

from chore_common.serving import main
from chore_tasks.app import create_app
from chore_tasks.settings import TasksSettings

if __name__ == "__main__":
    main(TasksSettings, create_app)
