"""Use cases: one async function per command or query, each owning its transaction.

Each takes a unit of work, a command and `now`; loads, asks the domain, saves with the
expected version, records events with `uow.record`, and commits once.
"""

from chore_tasks.usecases.admin_jobs import delete_job, get_job, list_jobs, retry_job, run_job_now
from chore_tasks.usecases.completion import (
    confirm_task,
    dispute_task,
    list_disputes,
    resolve_dispute,
)
from chore_tasks.usecases.edits import edit_task, task_history
from chore_tasks.usecases.offers import (
    list_offers,
    list_offers_with_people,
    make_offer,
    update_offer,
    withdraw_offer,
)
from chore_tasks.usecases.reopen import reopen_task, repost_task
from chore_tasks.usecases.reviews import list_user_reviews, review_task, user_rating
from chore_tasks.usecases.scheduled import (
    auto_confirm_task,
    expire_task,
    record_job_failure,
    remind_assignee,
    reveal_reviews,
    run_claimed_job,
)
from chore_tasks.usecases.tasks import (
    assign_task,
    browse_tasks,
    cancel_task,
    complete_task,
    create_task,
    get_task,
    start_task,
)

__all__ = [
    "assign_task",
    "auto_confirm_task",
    "browse_tasks",
    "cancel_task",
    "complete_task",
    "confirm_task",
    "create_task",
    "delete_job",
    "dispute_task",
    "edit_task",
    "expire_task",
    "get_job",
    "get_task",
    "list_disputes",
    "list_jobs",
    "list_offers",
    "list_offers_with_people",
    "list_user_reviews",
    "make_offer",
    "record_job_failure",
    "remind_assignee",
    "reopen_task",
    "repost_task",
    "resolve_dispute",
    "retry_job",
    "reveal_reviews",
    "review_task",
    "run_claimed_job",
    "run_job_now",
    "start_task",
    "task_history",
    "update_offer",
    "user_rating",
    "withdraw_offer",
]
