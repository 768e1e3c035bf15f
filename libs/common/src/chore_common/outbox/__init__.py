"""The outbox: events written in the same transaction as the change they describe
(`table`), collected by the unit of work (`record`), published to JetStream by the relay
(`relay`). docs/events.md explains the guarantees."""
