"""The tasks service over a real database, real NATS and real HTTP."""
