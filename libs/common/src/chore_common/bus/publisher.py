"""Publishing one envelope to JetStream: `Nats-Msg-Id` = envelope id, W3C trace headers.

Services do not call this for their own events (those go through the outbox and the
relay); it is for tools and tests, and shares the header rules with the relay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind

from chore_common.contracts.envelope import Envelope

MSG_ID: Final = "Nats-Msg-Id"
TRACEPARENT: Final = "traceparent"
TRACER: Final = "chore.bus"


def publish_headers(event_id: str, parent: Mapping[str, str] | None = None) -> dict[str, str]:
    """Headers of a published event: its id plus the current span's trace context."""
    headers = {k: v for k, v in (parent or {}).items() if k != MSG_ID}
    propagate.inject(headers)
    headers[MSG_ID] = event_id
    return headers


def parent_context(headers: Mapping[str, str] | None) -> Context:
    return propagate.extract(dict(headers or {}))


async def publish(
    js: JetStreamContext, envelope: Envelope, *, ack_timeout_s: float = 5.0
) -> PubAck:
    """Publish and wait for the PubAck (the stream has stored it, or it was a duplicate)."""
    tracer = trace.get_tracer(TRACER)
    with tracer.start_as_current_span(f"{envelope.subject} publish", kind=SpanKind.PRODUCER):
        headers = publish_headers(str(envelope.id))
        return await js.publish(
            envelope.subject, envelope.to_bytes(), ack_timeout_s, headers=headers
        )
