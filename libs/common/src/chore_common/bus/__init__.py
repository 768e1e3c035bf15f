"""The event bus on NATS JetStream: streams, outbox relay, durable consumers, dead letters,
and core-NATS fan-out. docs/events.md explains the guarantees."""

from chore_common.bus.connection import NATS_CLIENT, connect, nats_check, nats_context
from chore_common.bus.consumer import Consumer, ConsumerSpec, consumer_context
from chore_common.bus.relay import RELAY, Relay, relay_context
from chore_common.bus.streams import ensure_streams

__all__ = [
    "NATS_CLIENT",
    "RELAY",
    "Consumer",
    "ConsumerSpec",
    "Relay",
    "connect",
    "consumer_context",
    "ensure_streams",
    "nats_check",
    "nats_context",
    "relay_context",
]
