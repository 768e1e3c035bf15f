"""Messaging's adapters: SQL storage, the unit of work, socket hub and NATS fan-out."""
