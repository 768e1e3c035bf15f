"""Typing and presence rules, pure: time comes in as monotonic seconds.

- `Throttle`: at most one typing signal per key (sender, conversation) per `every_s`.
- `PresenceBook`: which users are online, from what the replicas say. Each replica reports
  its users (a beat of all of them every few seconds, plus single `on`/`off` changes at
  once); a user is online while some replica has reported them within `timeout_s`. A replica
  that dies says nothing more, so its users go offline when their reports age out.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Final

ONLINE: Final = "online"
OFFLINE: Final = "offline"


@dataclass(slots=True)
class Throttle:
    every_s: float
    last: dict[Hashable, float] = field(default_factory=dict)

    def allow(self, key: Hashable, now: float) -> bool:
        at = self.last.get(key)
        if at is not None and now - at < self.every_s:
            return False
        self.last[key] = now
        if len(self.last) > 10_000:  # forget old senders: bounded memory
            self.last = {k: t for k, t in self.last.items() if now - t < self.every_s}
        return True


@dataclass(frozen=True, slots=True)
class Change:
    user: Hashable
    status: str  # ONLINE | OFFLINE
    last_seen: float  # wall-clock seconds of the last report of the user as online


@dataclass(slots=True)
class PresenceBook:
    """`seen[user][replica]` = (monotonic time heard, wall time they were last online)."""

    timeout_s: float
    seen: dict[Hashable, dict[str, tuple[float, float]]] = field(default_factory=dict)
    last_seen: dict[Hashable, float] = field(default_factory=dict)

    def is_online(self, user: Hashable) -> bool:
        return bool(self.seen.get(user))

    def on(self, replica: str, users: Iterable[Hashable], now: float, wall: float) -> list[Change]:
        """`replica` reports `users` online; the users that were offline until now."""
        changes = []
        for user in users:
            was = self.is_online(user)
            self.seen.setdefault(user, {})[replica] = (now, wall)
            self.last_seen[user] = wall
            if not was:
                changes.append(Change(user, ONLINE, wall))
        return changes

    def off(self, replica: str, users: Iterable[Hashable], wall: float) -> list[Change]:
        """`replica` no longer holds `users`; the ones no replica holds any more."""
        changes = []
        for user in users:
            replicas = self.seen.get(user)
            if not replicas or replicas.pop(replica, None) is None:
                continue
            self.last_seen[user] = wall
            if not replicas:
                del self.seen[user]
                changes.append(Change(user, OFFLINE, wall))
        return changes

    def beat(
        self, replica: str, users: AbstractSet[Hashable], now: float, wall: float
    ) -> list[Change]:
        """A replica's full list: its users not in it left it (a missed `off`)."""
        gone = [u for u, r in self.seen.items() if replica in r and u not in users]
        return self.off(replica, gone, wall) + self.on(replica, users, now, wall)

    def expire(self, now: float) -> list[Change]:
        """Reports older than the timeout no longer count: a silent replica's users go offline."""
        changes = []
        for user in list(self.seen):
            replicas = self.seen[user]
            for replica, (heard, wall) in list(replicas.items()):
                if now - heard > self.timeout_s:
                    del replicas[replica]
                    self.last_seen[user] = max(self.last_seen.get(user, 0.0), wall)
            if not replicas:
                del self.seen[user]
                changes.append(Change(user, OFFLINE, self.last_seen[user]))
        return changes
