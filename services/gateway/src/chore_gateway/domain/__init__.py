"""The gateway's pure parts: rate limiter, circuit breaker, upstream pools, header rules.

No I/O and no clock of their own: callers pass `now` (the event loop's monotonic time), so
tests drive every state change with plain numbers.
"""
