"""The event bus on NATS JetStream: connection, streams, durable consumers, dead letters
and core-NATS fan-out, one module each (the outbox relay that publishes is
`chore_common.outbox.relay`). docs/events.md explains the guarantees."""
