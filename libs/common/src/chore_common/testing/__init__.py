"""Test support shared by every service: real NATS, throwaway databases, app clients."""
