"""Two-way, double-blind reviews of a completed task, and the rating summary they add up to.

After completion the owner reviews the assignee and the assignee the owner, once each.
A review stays hidden until both have written or the blind period (`TASKS_REVIEW_BLIND_DAYS`,
14 days) after completion has passed, so neither answers the other's. The period is also the
window for writing: once it has passed a late review would be read by whoever it answers,
so it is refused. Revealing is a state change (`visible_at` set once, in the transaction that
also adds the rating to the subject's summary and records `ReviewPublished`), so what is
visible never depends on a reader's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from chore_common.errors import Conflict, InvalidInput
from chore_tasks.domain import policies
from chore_tasks.domain.events import ReviewCreated, ReviewPublished
from chore_tasks.domain.model import COMMENT_MAX, Actor, Review, Task, require_text

RATINGS = range(1, 6)
BLIND_PERIOD = timedelta(days=14)


def completed_at(task: Task) -> datetime:
    # No move leaves `completed`, so the last change of a completed task is its completion.
    return task.updated_at


def write_review(
    task: Task,
    *,
    review_id: UUID,
    by: Actor,
    rating: int,
    comment: str,
    written: Sequence[Review],
    now: datetime,
    blind: timedelta = BLIND_PERIOD,
) -> tuple[Review, ReviewCreated]:
    """`written`: the task's reviews so far. Refuses a stranger (403), a task not completed,
    a second review by the same author and a review after the blind period (409)."""
    already = any(r.author_id == by.user_id for r in written)
    policies.ensure_can_review(task, by, already_reviewed=already)
    reveal_at = completed_at(task) + blind
    if now >= reveal_at:
        raise Conflict("the period for reviewing this task has ended", code="review_closed")
    if isinstance(rating, bool) or rating not in RATINGS:
        raise InvalidInput("rating must be 1 to 5", code="bad_rating")
    require_text("comment", comment, max_len=COMMENT_MAX, allow_empty=True)
    assert task.assignee_id is not None  # a completed task always had an assignee
    subject = task.assignee_id if by.user_id == task.owner_id else task.owner_id
    review = Review(
        id=review_id,
        task_id=task.id,
        author_id=by.user_id,
        subject_id=subject,
        rating=rating,
        comment=comment,
        created_at=now,
        reveal_at=reveal_at,
    )
    event = ReviewCreated(
        occurred_at=now,
        review_id=review.id,
        task_id=task.id,
        owner_id=task.owner_id,
        tasker_id=task.assignee_id,
        author_id=by.user_id,
        subject_id=subject,
        rating=rating,
        comment=comment,
        reveal_at=reveal_at,
    )
    return review, event


def due_to_reveal(reviews: Sequence[Review], now: datetime) -> list[Review]:
    """The hidden reviews of one task that must be visible now: all of them once both sides
    have written (two authors) or the earliest hidden one's `reveal_at` has passed."""
    hidden = [r for r in reviews if r.visible_at is None]
    if not hidden:
        return []
    both_written = len({r.author_id for r in reviews}) >= 2
    if both_written or now >= min(r.reveal_at for r in hidden):
        return hidden
    return []


def next_reveal(reviews: Sequence[Review]) -> datetime | None:
    """When the reveal job must look again, if anything is still hidden."""
    hidden = [r.reveal_at for r in reviews if r.visible_at is None]
    return min(hidden) if hidden else None


def reveal(review: Review, task: Task, now: datetime) -> tuple[Review, ReviewPublished]:
    shown = replace(review, visible_at=now)
    event = ReviewPublished(
        occurred_at=now,
        review_id=review.id,
        task_id=review.task_id,
        title=task.title,
        author_id=review.author_id,
        subject_id=review.subject_id,
        rating=review.rating,
        comment=review.comment,
        created_at=review.created_at,
    )
    return shown, event


@dataclass(frozen=True, slots=True)
class RatingSummary:
    """What a user's visible reviews add up to: how many, their sum, and how many of each
    star (`stars[0]` counts 1-star reviews)."""

    count: int = 0
    total: int = 0
    stars: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)

    @property
    def mean(self) -> float | None:
        return round(self.total / self.count, 2) if self.count else None

    def add(self, rating: int) -> RatingSummary:
        stars = list(self.stars)
        stars[rating - 1] += 1
        return RatingSummary(
            self.count + 1, self.total + rating, (stars[0], stars[1], stars[2], stars[3], stars[4])
        )


def summarize(ratings: Sequence[int]) -> RatingSummary:
    summary = RatingSummary()
    for rating in ratings:
        summary = summary.add(rating)
    return summary
