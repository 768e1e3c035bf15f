"""The chat's pure rules: inbox lines, notification settings with quiet hours, the typing
throttle and the presence book (time passed in)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from uuid import uuid4

import pytest

from chore_common.errors import InvalidInput
from chore_messaging.domain import inbox
from chore_messaging.domain.model import Message, open_conversation
from chore_messaging.domain.preferences import Channel, Preferences, QuietHours, SettingKind
from chore_messaging.domain.presence import OFFLINE, ONLINE, PresenceBook, Throttle

NOW = datetime(2026, 12, 6, 21, 30, tzinfo=UTC)  # 22:30 in Berlin, 16:30 in New York


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("hi", "hi"),
        ("  a\n\n b\t c  ", "a b c"),
        ("x" * 200, "x" * 120),
    ],
)
def test_a_preview_is_the_first_120_characters_with_whitespace_folded(body: str, line: str) -> None:
    assert inbox.preview(body) == line


def test_a_message_moves_the_conversation_and_reads_it_for_its_sender() -> None:
    owner, tasker = uuid4(), uuid4()
    conv = open_conversation(task_id=uuid4(), owner_id=owner, tasker_id=tasker, title="t", now=NOW)
    conv = inbox.read_up_to(conv, tasker, 0)
    sent = Message(uuid4(), conv.id, 3, tasker, "on my way", "c1", NOW)
    moved = inbox.moved(replace(conv, last_seq=3), sent)
    assert moved.activity_at == NOW
    assert moved.last_preview == "on my way"
    assert inbox.unread(moved.last_seq, moved.read_seq_of(tasker)) == 0
    assert inbox.unread(moved.last_seq, moved.read_seq_of(owner)) == 3
    assert inbox.read_up_to(moved, owner, 2).read_seq_of(owner) == 2
    assert inbox.read_up_to(inbox.read_up_to(moved, owner, 2), owner, 1).read_seq_of(owner) == 2


@pytest.mark.parametrize(
    ("kind", "channel", "allowed"),
    [
        ("offer_created", Channel.IN_APP, False),  # turned off
        ("offer_withdrawn", Channel.IN_APP, False),  # same group
        ("offer_created", Channel.EMAIL, False),  # inside quiet hours in Berlin
        ("task_assigned", Channel.IN_APP, True),
        ("task_assigned", Channel.EMAIL, False),  # quiet hours
        ("task_started", Channel.IN_APP, True),  # in no group: always in-app
    ],
)
def test_settings_and_quiet_hours_in_the_users_zone(
    kind: str, channel: Channel, allowed: bool
) -> None:
    prefs = Preferences().with_changes(
        {SettingKind.OFFER: {Channel.IN_APP: False}},
        "Europe/Berlin",
        QuietHours(time(22, 0), time(7, 0)),
    )
    assert prefs.allows(kind, channel, NOW) is allowed


def test_quiet_hours_follow_the_zone_and_can_be_cleared() -> None:
    quiet = QuietHours(time(22, 0), time(7, 0))
    new_york = Preferences().with_changes(None, "America/New_York", quiet)
    assert new_york.allows("task_assigned", Channel.EMAIL, NOW)  # 16:30 there
    assert not new_york.allows("task_assigned", Channel.EMAIL, NOW.replace(hour=4))  # 23:00
    cleared = new_york.with_changes(clear_quiet=True)
    assert cleared.allows("task_assigned", Channel.EMAIL, NOW.replace(hour=4))
    assert QuietHours(time(9), time(17)).contains(time(12))
    assert not QuietHours(time(9), time(17)).contains(time(17))
    assert not QuietHours(time(9), time(9)).contains(time(9))


@pytest.mark.parametrize(
    ("utc_now", "expected"),
    [
        # Berlin is UTC+1 in December; quiet 22:00-07:00 local wraps midnight.
        (datetime(2026, 12, 6, 12, 0, tzinfo=UTC), datetime(2026, 12, 6, 12, 0, tzinfo=UTC)),
        (datetime(2026, 12, 6, 22, 30, tzinfo=UTC), datetime(2026, 12, 7, 6, 0, tzinfo=UTC)),
        (datetime(2026, 12, 7, 3, 0, tzinfo=UTC), datetime(2026, 12, 7, 6, 0, tzinfo=UTC)),
    ],
)
def test_an_email_in_quiet_hours_waits_for_their_end_instead_of_being_lost(
    utc_now: datetime, expected: datetime
) -> None:
    berlin = Preferences().with_changes(None, "Europe/Berlin", QuietHours(time(22), time(7)))
    assert berlin.email_at(utc_now) == expected
    assert berlin.allows("task_assigned", Channel.EMAIL, utc_now) is (expected == utc_now)
    # The in-app channel never waits.
    assert berlin.allows("task_assigned", Channel.IN_APP, utc_now)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        Preferences().with_changes(time_zone="Mars/Olympus")
    assert refused.value.code == "invalid_time_zone"


def test_typing_is_let_through_once_per_period_per_sender_and_conversation() -> None:
    throttle = Throttle(every_s=3.0)
    assert [throttle.allow(("ann", "c1"), t) for t in (0.0, 1.0, 2.9, 3.0, 3.1)] == [
        True, False, False, True, False,
    ]  # fmt: skip
    assert throttle.allow(("ann", "c2"), 1.0)
    assert throttle.allow(("bob", "c1"), 1.0)


def test_presence_follows_the_replicas_reports_and_their_silence() -> None:
    book = PresenceBook(timeout_s=30.0)
    assert [(c.user, c.status) for c in book.on("r1", ["ann"], 0.0, 100.0)] == [("ann", ONLINE)]
    assert book.on("r2", ["ann"], 1.0, 101.0) == []  # already online
    assert book.off("r1", ["ann"], 102.0) == []  # still on r2
    assert [(c.user, c.status) for c in book.off("r2", ["ann"], 103.0)] == [("ann", OFFLINE)]
    assert book.last_seen["ann"] == 103.0
    book.on("r1", ["bob", "cid"], 10.0, 110.0)
    assert [c.user for c in book.beat("r1", {"bob"}, 20.0, 120.0)] == ["cid"]  # a missed off
    assert book.expire(49.0) == []  # heard at 20: within 30 s
    gone = book.expire(51.0)  # r1 went silent (killed)
    assert [(c.user, c.status, c.last_seen) for c in gone] == [("bob", OFFLINE, 120.0)]
    assert not book.is_online("bob")
