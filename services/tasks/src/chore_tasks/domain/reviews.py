"""Reviewing a finished task: the owner rates the assignee once, after completion."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from chore_common.errors import InvalidInput
from chore_tasks.domain import policies
from chore_tasks.domain.events import ReviewCreated
from chore_tasks.domain.model import COMMENT_MAX, Actor, Review, Task, require_text

RATINGS = range(1, 6)


def write_review(
    task: Task,
    *,
    review_id: UUID,
    by: Actor,
    rating: int,
    comment: str,
    already_reviewed: bool,
    now: datetime,
) -> tuple[Review, ReviewCreated]:
    policies.ensure_can_review(task, by, already_reviewed=already_reviewed)
    if isinstance(rating, bool) or rating not in RATINGS:
        raise InvalidInput("rating must be 1 to 5", code="bad_rating")
    require_text("comment", comment, max_len=COMMENT_MAX, allow_empty=True)
    assert task.assignee_id is not None  # a completed task always had an assignee
    review = Review(
        id=review_id,
        task_id=task.id,
        author_id=by.user_id,
        subject_id=task.assignee_id,
        rating=rating,
        comment=comment,
        created_at=now,
    )
    event = ReviewCreated(
        occurred_at=now,
        review_id=review.id,
        task_id=task.id,
        author_id=by.user_id,
        subject_id=task.assignee_id,
        rating=rating,
        comment=comment,
    )
    return review, event
