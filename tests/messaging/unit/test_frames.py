"""The WebSocket protocol's parsing and encoding."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from chore_messaging import frames
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
