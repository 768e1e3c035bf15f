"""Where `Idempotency-Key` claims and first responses are kept: the store protocol the
middleware (`chore_common.idempotency.middleware`) speaks, and its SQL implementation on
the service's `idempotency_keys` table (`add_idempotency_table`).

Each call is its own short transaction on the engine, never the request's unit of work:
the claim must be visible to a concurrent request before the handler's work starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.idempotency.table import IDEMPOTENCY

T = IDEMPOTENCY


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A key's row: a claim while `response` is None, else the first 2xx answer."""

    fingerprint: str
    response: StoredResponse | None
    created_at: datetime


class IdempotencyStore(Protocol):
    """Where keys live (`SqlIdempotencyStore` below; fakes in tests)."""

    async def claim(
        self, scope: str, key: str, fingerprint: str, now: datetime
    ) -> KeyRecord | None:
        """Insert a claim; None if it is ours, else the row already there."""
        ...

    async def take_over(
        self, scope: str, key: str, fingerprint: str, seen: datetime, now: datetime
    ) -> bool:
        """Reset an expired or abandoned row to a fresh claim, if it is still as `seen`."""
        ...

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None: ...
    async def release(self, scope: str, key: str) -> None: ...
    async def prune(self, cutoff: datetime) -> int: ...


class SqlIdempotencyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def _row(self, scope: str, key: str) -> ColumnElement[bool]:
        return and_(T.c.scope == scope, T.c.key == key)

    async def claim(
        self, scope: str, key: str, fingerprint: str, now: datetime
    ) -> KeyRecord | None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(T).values(scope=scope, key=key, fingerprint=fingerprint, created_at=now)
                )
            return None
        except IntegrityError:
            pass  # the primary key says someone holds it: read what they hold
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        T.c.fingerprint, T.c.status, T.c.headers, T.c.body, T.c.created_at
                    ).where(self._row(scope, key))
                )
            ).first()
        if row is None:  # released between our insert and our read: try again
            return await self.claim(scope, key, fingerprint, now)
        response = (
            None
            if row.status is None
            else StoredResponse(int(row.status), dict(row.headers or {}), bytes(row.body or b""))
        )
        return KeyRecord(row.fingerprint, response, row.created_at)

    async def take_over(
        self, scope: str, key: str, fingerprint: str, seen: datetime, now: datetime
    ) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(T)
                .where(self._row(scope, key), T.c.created_at == seen)
                .values(
                    fingerprint=fingerprint, status=None, headers=None, body=None, created_at=now
                )
            )
        return int(result.rowcount) == 1

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(T)
                .where(self._row(scope, key))
                .values(status=response.status, headers=dict(response.headers), body=response.body)
            )

    async def release(self, scope: str, key: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(T).where(self._row(scope, key), T.c.status.is_(None)))

    async def prune(self, cutoff: datetime) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(T).where(T.c.created_at < cutoff))
        return int(result.rowcount)
