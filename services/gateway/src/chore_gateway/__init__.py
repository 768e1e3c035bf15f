"""The chore gateway: the platform's one front door."""
