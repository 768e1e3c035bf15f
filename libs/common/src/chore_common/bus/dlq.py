"""Dead letters: events a consumer gave up on, kept in stream DLQ on `dlq.<STREAM>`.

A dead letter keeps the original payload and headers and adds why and where it failed
(`Chore-Dlq-*` headers). `replay` republishes it on its original subject: the consumer
that failed handles it again, and every other consumer of that subject finds the event id
in its inbox and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from chore_common.bus.publisher import MSG_ID
from chore_common.bus.streams import DLQ_PREFIX, DLQ_STREAM, dlq_subject

H_ERROR: Final = "Chore-Dlq-Error"
H_REASON: Final = "Chore-Dlq-Reason"
H_SUBJECT: Final = "Chore-Dlq-Subject"
H_STREAM: Final = "Chore-Dlq-Stream"
H_STREAM_SEQ: Final = "Chore-Dlq-Stream-Seq"
H_CONSUMER: Final = "Chore-Dlq-Consumer"
H_DELIVERIES: Final = "Chore-Dlq-Deliveries"
H_AT: Final = "Chore-Dlq-At"
H_EVENT_ID: Final = "Chore-Event-Id"
MAX_ERROR_CHARS: Final = 2000


def _one_line(text: str) -> str:
    # Header values cannot hold line breaks; tracebacks are flattened.
    return " | ".join(part.strip() for part in text.splitlines() if part.strip())[:MAX_ERROR_CHARS]


async def dead_letter(
    js: JetStreamContext,
    msg: Msg,
    *,
    stream: str,
    consumer: str,
    reason: str,
    error: str,
    ack_timeout_s: float = 5.0,
) -> None:
    """Copy `msg` to `dlq.<stream>` and wait for the PubAck. The caller terminates it after."""
    meta = msg.metadata
    original = dict(msg.headers or {})
    event_id = _json_field(msg.data, "id") or original.get(MSG_ID, "")
    headers = {k: v for k, v in original.items() if not k.startswith("Chore-Dlq-")}
    headers.update(
        {
            H_ERROR: _one_line(error) or reason,
            H_REASON: reason,
            H_SUBJECT: msg.subject,
            H_STREAM: stream,
            H_STREAM_SEQ: str(meta.sequence.stream),
            H_CONSUMER: consumer,
            H_DELIVERIES: str(meta.num_delivered),
            H_AT: datetime.now(UTC).isoformat(),
            H_EVENT_ID: event_id,
            # One dead letter per (consumer, stored message): if we die before terminating
            # and it comes back, the DLQ stream drops the second copy.
            MSG_ID: f"dlq:{consumer}:{stream}:{meta.sequence.stream}",
        }
    )
    await js.publish(dlq_subject(stream), msg.data, ack_timeout_s, headers=headers)


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    stream: str
    subject: str
    consumer: str
    reason: str
    error: str
    event_id: str
    event_type: str
    deliveries: int
    at: str
    data: bytes
    headers: Mapping[str, str]

    def as_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "stream": self.stream,
            "subject": self.subject,
            "consumer": self.consumer,
            "reason": self.reason,
            "error": self.error,
            "event_id": self.event_id,
            "type": self.event_type,
            "deliveries": self.deliveries,
            "at": self.at,
        }


def _json_field(data: bytes, field: str) -> str:
    try:
        parsed = json.loads(data)
    except ValueError:
        return ""
    return str(parsed.get(field, "")) if isinstance(parsed, dict) else ""


async def list_dead_letters(
    js: JetStreamContext, *, stream: str | None = None, limit: int = 1000
) -> list[DeadLetter]:
    """Dead letters oldest first (of one origin stream when `stream` is given)."""
    subject = dlq_subject(stream) if stream else f"{DLQ_PREFIX}.>"
    found: list[DeadLetter] = []
    seq = 1
    while len(found) < limit:
        try:
            raw = await js.get_msg(DLQ_STREAM, seq=seq, subject=subject, next=True)
        except NotFoundError:
            break
        if raw.seq is None:
            break
        headers = dict(raw.headers or {})
        data = raw.data or b""
        found.append(
            DeadLetter(
                seq=raw.seq,
                stream=headers.get(H_STREAM, ""),
                subject=headers.get(H_SUBJECT, ""),
                consumer=headers.get(H_CONSUMER, ""),
                reason=headers.get(H_REASON, ""),
                error=headers.get(H_ERROR, ""),
                event_id=headers.get(H_EVENT_ID, ""),
                event_type=_json_field(data, "type"),
                deliveries=int(headers.get(H_DELIVERIES, "0") or 0),
                at=headers.get(H_AT, ""),
                data=data,
                headers=headers,
            )
        )
        seq = raw.seq + 1
    return found


async def replay(
    js: JetStreamContext,
    *,
    subject: str | None = None,
    event_id: str | None = None,
    stream: str | None = None,
    ack_timeout_s: float = 5.0,
) -> list[DeadLetter]:
    """Republish matching dead letters on their original subjects, then delete them.

    The replay gets a new `Nats-Msg-Id` (the original one would be dropped as a duplicate
    within the window); the envelope id inside is unchanged, so inboxes still recognise it.
    """
    replayed: list[DeadLetter] = []
    for letter in await list_dead_letters(js, stream=stream, limit=100_000):
        if subject is not None and letter.subject != subject:
            continue
        if event_id is not None and letter.event_id != event_id:
            continue
        headers = {k: v for k, v in letter.headers.items() if not k.startswith("Chore-Dlq-")}
        headers.pop(H_EVENT_ID, None)
        headers[MSG_ID] = f"{letter.event_id or 'event'}:replay:{letter.seq}"
        # Published before the delete: a crash in between leaves a copy to replay again,
        # which the inbox absorbs, rather than losing the event.
        await js.publish(letter.subject, letter.data, ack_timeout_s, headers=headers)
        await js.delete_msg(DLQ_STREAM, letter.seq)
        replayed.append(letter)
    return replayed
