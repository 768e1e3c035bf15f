"""Who was around: the socket registry, noting each user who opens or closes a socket.

Reads go over the socket, so "no socket opened, open or closed for a day" is what messaging
can tell of a user being away. The digest job flushes these users to the database now and
then (`take_seen`), so the socket path itself never waits on a write.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from chore_messaging.adapters.sockets import SocketRegistry
from chore_messaging.usecases.ports import Socket


class PresenceSockets(SocketRegistry):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._touched: set[UUID] = set()

    def add(self, conn: Socket) -> None:
        super().add(conn)
        self._touched.add(conn.user_id)

    async def disconnect(self, socket: Socket) -> None:
        self._touched.add(socket.user_id)
        await super().disconnect(socket)

    def take_seen(self) -> set[UUID]:
        """Users with a socket open now, or opened or closed since the last call."""
        seen = self._touched | set(self.by_user)
        self._touched = set()
        return seen
