"""The WebSocket protocol's parsing and encoding."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from chore_messaging.api import frames
from chore_messaging.domain.model import Message, Notification, NotificationKind


def test_each_client_frame_type_parses() -> None:
    cid = str(uuid4())
    parsed = [
        frames.parse_client_frame(json.dumps(f))
        for f in (
            {"type": "subscribe", "conversation_id": cid},
            {"type": "subscribe", "conversation_id": cid, "since_seq": 5},
            {"type": "unsubscribe", "conversation_id": cid},
            {"type": "send", "conversation_id": cid, "body": "hi", "client_msg_id": "a"},
            {"type": "read", "conversation_id": cid, "seq": 3},
            {"type": "ping"},
        )
    ]
    assert [type(p) for p in parsed] == [
        frames.Subscribe,
        frames.Subscribe,
        frames.Unsubscribe,
        frames.Send,
        frames.Read,
        frames.Ping,
    ]
    assert parsed[0].since_seq is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("nope", "invalid_json"),
        ("42", "invalid_json"),
        ('{"type": 1}', "unknown_type"),
        ('{"type": "subscribe"}', "invalid_frame"),
        ('{"type": "ping", "x": 1}', "invalid_frame"),
        ('{"type": "read", "conversation_id": "' + str(uuid4()) + '", "seq": -1}', "invalid_frame"),
    ],
)
def test_bad_frames_have_codes(text: str, code: str) -> None:
    with pytest.raises(frames.FrameError) as caught:
        frames.parse_client_frame(text)
    assert caught.value.code == code


def test_server_frames_are_plain_json() -> None:
    message = Message(uuid4(), uuid4(), 7, uuid4(), "hello", "c1", datetime.now(UTC))
    out = json.loads(frames.message_frame(message))
    assert out["type"] == "message"
    assert (out["seq"], out["body"]) == (7, "hello")
    assert set(out) == {"type", "conversation_id", "seq", "id", "sender_id", "body", "sent_at"}
    note = Notification(
        uuid4(), uuid4(), NotificationKind.REMINDER_DUE, uuid4(), "t", datetime.now(UTC)
    )
    assert json.loads(frames.notification_frame(note))["kind"] == "reminder_due"
    err = json.loads(frames.error_frame("rate_limited", "slow down"))
    assert err == {"type": "error", "code": "rate_limited", "detail": "slow down"}
    assert json.loads(frames.PONG) == {"type": "pong"}


CID = str(uuid4())


def _frame(kind: str, **fields: object) -> str:
    # json.dumps writes a lone surrogate as its escape ("\\ud800"), as a client's JSON would.
    return json.dumps({"type": kind, "conversation_id": CID, **fields})


@pytest.mark.parametrize(
    ("text", "field"),
    [
        # Valid JSON whose values the database cannot hold: refused at the edge, never stored.
        (_frame("subscribe", since_seq=2**70), "since_seq"),
        (_frame("subscribe", since_seq=2**63), "since_seq"),
        (_frame("read", seq=2**63), "seq"),
        (_frame("send", body="a\ud800b", client_msg_id="c"), "body"),
        (_frame("send", body="\udfff", client_msg_id="c"), "body"),
        (_frame("send", body="a\x00b", client_msg_id="c"), "body"),
        (_frame("send", body="hi", client_msg_id="\ud83d"), "client_msg_id"),
    ],
)
def test_values_the_database_cannot_hold_are_invalid_frames(text: str, field: str) -> None:
    with pytest.raises(frames.FrameError) as caught:
        frames.parse_client_frame(text)
    assert caught.value.code == "invalid_frame"
    assert caught.value.detail.startswith(f"{field}: ")


def test_the_largest_seq_and_a_whole_surrogate_pair_still_parse() -> None:
    top = frames.parse_client_frame(_frame("subscribe", since_seq=2**63 - 1))
    assert top.since_seq == 2**63 - 1  # type: ignore[union-attr]
    emoji = frames.parse_client_frame(_frame("send", body="\U0001f600", client_msg_id="c"))
    assert emoji.body == "\U0001f600"  # type: ignore[union-attr]


def test_json_nested_deeper_than_the_parser_goes_is_invalid_json() -> None:
    with pytest.raises(frames.FrameError) as caught:
        frames.parse_client_frame("[" * 5000 + "]" * 5000)
    assert caught.value.code == "invalid_json"
