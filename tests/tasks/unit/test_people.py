"""domain/people.py: what each account status takes away, and auth's words read safely."""

from __future__ import annotations

import pytest

from chore_tasks.domain.people import HIDDEN, PersonStatus, status_of, withdraws_offers


@pytest.mark.parametrize(
    ("word", "status", "hidden", "withdraws"),
    [
        ("active", PersonStatus.ACTIVE, False, False),
        ("suspended", PersonStatus.SUSPENDED, True, True),
        ("banned", PersonStatus.BANNED, True, True),
        ("deleted", PersonStatus.DELETED, True, True),
        # A status a newer auth may invent takes nothing away until tasks knows it.
        ("on_probation", PersonStatus.ACTIVE, False, False),
    ],
)
def test_each_status_hides_tasks_and_withdraws_offers_or_not(
    word: str, status: PersonStatus, hidden: bool, withdraws: bool
) -> None:
    assert status_of(word) is status
    assert (status in HIDDEN, withdraws_offers(status)) == (hidden, withdraws)
