"""Metrics and traces: what every service reports about itself (no aiohttp here)."""
