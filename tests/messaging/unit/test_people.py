"""domain/people.py: who a notification is about, to the person it notifies."""

from __future__ import annotations

from types import SimpleNamespace
from uuid import uuid4

import pytest

from chore_messaging.domain.people import Person, counterpart, person_of

OWNER, TASKER, AUTHOR = uuid4(), uuid4(), uuid4()


@pytest.mark.parametrize(
    ("fields", "recipient", "expected"),
    [
        ({"owner_id": OWNER, "tasker_id": TASKER}, OWNER, TASKER),  # an offer, to the owner
        ({"owner_id": OWNER, "tasker_id": TASKER}, TASKER, OWNER),  # declined, to the tasker
        ({"owner_id": OWNER, "assignee_id": TASKER}, OWNER, TASKER),  # done, to the owner
        ({"owner_id": OWNER, "former_assignee_id": TASKER}, OWNER, TASKER),  # reopened
        ({"author_id": AUTHOR, "subject_id": TASKER}, TASKER, AUTHOR),  # a review
        ({"owner_id": OWNER}, OWNER, None),  # expired, to the owner: nobody else
        ({"owner_id": OWNER, "assignee_id": None}, OWNER, None),  # cancelled, nobody assigned
    ],
)
def test_counterpart_is_the_other_side_of_the_event(
    fields: dict[str, object], recipient: object, expected: object
) -> None:
    assert counterpart(SimpleNamespace(**fields), recipient) == expected  # type: ignore[arg-type]


def test_older_notifications_name_the_first_id_that_is_not_the_recipients() -> None:
    assert person_of({"person_id": str(OWNER), "tasker_id": str(TASKER)}, TASKER) == OWNER
    assert person_of({"tasker_id": str(TASKER)}, OWNER) == TASKER
    assert person_of({"assignee_id": str(OWNER)}, OWNER) is None
    assert person_of({"tasker_id": "not an id"}, OWNER) is None


def test_the_mean_rating_is_none_without_reviews_and_rounded_with_them() -> None:
    assert Person(OWNER).rating_mean is None
    assert Person(OWNER, rating_count=3, rating_total=14).rating_mean == 4.67
