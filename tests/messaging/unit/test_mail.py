"""The mail notifier's pure rules (ids, retries, the digest) and its templates."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from chore_messaging.adapters.mail_templates import TEMPLATES, JinjaRenderer, TemplateProblem
from chore_messaging.domain.mail import (
    Address,
    Letter,
    MailKind,
    RetryPolicy,
    Unread,
    compose,
    digest_event_id,
    mail_id,
    needs_digest,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def test_one_mail_per_event_and_recipient() -> None:
    event, ann, bob = uuid4(), uuid4(), uuid4()
    assert mail_id(event, ann) == mail_id(event, ann)
    assert mail_id(event, ann) != mail_id(event, bob)
    assert mail_id(event, ann) != mail_id(uuid4(), ann)
    today, tomorrow = NOW.date(), (NOW + DAY).date()
    assert digest_event_id(ann, today) == digest_event_id(ann, today)
    assert digest_event_id(ann, today) != digest_event_id(ann, tomorrow)


@pytest.mark.parametrize(
    ("kind", "verified", "receives"),
    [
        (MailKind.PASSWORD_RESET, False, True),
        (MailKind.VERIFY_EMAIL, False, True),
        (MailKind.TASK_ASSIGNED, False, False),
        (MailKind.UNREAD_DIGEST, False, False),
        (MailKind.TASK_ASSIGNED, True, True),
        (MailKind.OFFER_DECLINED, True, True),
    ],
)
def test_only_security_mail_goes_to_an_unverified_address(
    kind: MailKind, verified: bool, receives: bool
) -> None:
    assert Address(uuid4(), "a@example.com", "Ann", verified).may_receive(kind) is receives


@pytest.mark.parametrize(
    ("attempts", "wait_s"), [(0, 2.0), (1, 2.0), (2, 5.0), (3, 15.0), (9, 30.0), (50, 30.0)]
)
def test_retries_wait_longer_then_keep_the_last_step(attempts: int, wait_s: float) -> None:
    policy = RetryPolicy(backoff_s=(2.0, 5.0, 15.0, 30.0))
    assert policy.next_attempt(attempts, NOW) == NOW + timedelta(seconds=wait_s)


@pytest.mark.parametrize(
    ("age", "permanent", "gives_up"),
    [
        (timedelta(minutes=1), False, False),
        (timedelta(minutes=1), True, True),
        (timedelta(hours=71), False, False),
        (timedelta(hours=72), False, True),
    ],
)
def test_a_mail_is_given_up_when_refused_for_good_or_too_old(
    age: timedelta, permanent: bool, gives_up: bool
) -> None:
    to = Address(uuid4(), "a@example.com", "Ann", True)
    mail = compose(uuid4(), MailKind.TASK_ASSIGNED, to, Letter("s", "t", "h"), NOW - age)
    assert RetryPolicy().gives_up(mail, permanent=permanent, now=NOW) is gives_up


def unread(at: datetime, count: int = 1) -> Unread:
    return Unread(uuid4(), "Fix the sink", count, at)


@pytest.mark.parametrize(
    ("last_seen", "last_digest", "latest", "count", "expected"),
    [
        (None, None, NOW - timedelta(hours=1), 1, True),  # never connected: away
        (NOW - timedelta(hours=25), None, NOW - timedelta(hours=1), 2, True),
        (NOW - timedelta(hours=23), None, NOW - timedelta(hours=1), 2, False),  # around
        (None, NOW - timedelta(hours=2), NOW - timedelta(hours=3), 1, False),  # told already
        (None, NOW - timedelta(hours=2), NOW - timedelta(hours=1), 1, True),  # something new
        (None, None, NOW - timedelta(hours=1), 0, False),  # nothing unread
        # Just arrived: the user may have just come online, before presence shows it.
        (None, None, NOW - timedelta(minutes=1), 1, False),
    ],
)
def test_the_digest_goes_to_users_away_with_something_new(
    last_seen: datetime | None,
    last_digest: datetime | None,
    latest: datetime,
    count: int,
    expected: bool,
) -> None:
    got = needs_digest(last_seen, last_digest, [unread(latest, count)], NOW, DAY)
    assert got is expected


def renderer(folder: Path = TEMPLATES) -> JinjaRenderer:
    return JinjaRenderer(folder, language="en", app_url="https://chore.example/")


VALUES = {
    MailKind.VERIFY_EMAIL: {"link": "https://x/verify?t=a&b", "expires_at": NOW},
    MailKind.PASSWORD_RESET: {"link": "https://x/reset?t=a&b", "expires_at": NOW},
    MailKind.TASK_ASSIGNED: {"task_id": uuid4(), "title": "Fix <b>it</b>", "price_cents": 1250},
    MailKind.OFFER_DECLINED: {"task_id": uuid4(), "title": "Fix <b>it</b>"},
    MailKind.TASK_DISPUTED: {"task_id": uuid4(), "title": "Fix <b>it</b>", "reason": "<i>no</i>"},
    MailKind.UNREAD_DIGEST: {
        "total": 3,
        "conversations": [
            {"title": "Fix <b>it</b>", "count": 1, "conversation_id": uuid4()},
            {"title": "Paint", "count": 2, "conversation_id": uuid4()},
        ],
    },
}


@pytest.mark.parametrize("kind", list(MailKind))
def test_every_kind_renders_text_and_escaped_html(kind: MailKind) -> None:
    letter = renderer()(kind, {"name": "Ann <3", **VALUES[kind]})
    assert letter.subject
    assert "\n" not in letter.subject
    assert "Hello Ann <3," in letter.text
    assert "Hello Ann &lt;3," in letter.html
    assert "<b>it</b>" not in letter.html  # what users wrote is text, never markup
    assert letter.html.lstrip().startswith("<!doctype html>")


def test_links_and_counts_read_right() -> None:
    reset = renderer()(MailKind.PASSWORD_RESET, {"name": "Ann", **VALUES[MailKind.PASSWORD_RESET]})
    assert "https://x/reset?t=a&b" in reset.text
    assert 'href="https://x/reset?t=a&amp;b"' in reset.html
    assert "2026-12-06 12:00 UTC" in reset.text
    digest = renderer()(MailKind.UNREAD_DIGEST, {"name": "Ann", **VALUES[MailKind.UNREAD_DIGEST]})
    assert digest.subject == "You have 3 unread messages on Chore"
    assert "Fix <b>it</b>: 1 unread message\n" in digest.text
    assert "Paint: 2 unread messages" in digest.text
    hired = renderer()(MailKind.TASK_ASSIGNED, {"name": "Ann", **VALUES[MailKind.TASK_ASSIGNED]})
    assert "Agreed price: 12.50." in hired.text
    assert f"https://chore.example/tasks/{VALUES[MailKind.TASK_ASSIGNED]['task_id']}" in hired.text


def test_a_broken_template_is_a_problem_naming_the_file(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATES, tmp_path, dirs_exist_ok=True)
    (tmp_path / "en" / "offer_declined.html").write_text("<p>{{ no_such_value }}</p>")
    broken = renderer(tmp_path)
    with pytest.raises(TemplateProblem, match=r"offer_declined\.html.*no_such_value"):
        broken(MailKind.OFFER_DECLINED, {"name": "Ann", **VALUES[MailKind.OFFER_DECLINED]})
    with pytest.raises(TemplateProblem, match="task_assigned"):
        broken(MailKind.TASK_ASSIGNED, {"name": "Ann"})  # a value the template needs is missing
