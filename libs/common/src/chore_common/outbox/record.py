"""Recording events: the unit of work's `Outbox` collects them during a transaction and
inserts their rows right before commit, so an event exists exactly when its change does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chore_common.contracts.envelope import Envelope
from chore_common.contracts.registry import Contract
from chore_common.outbox.table import OUTBOX
from chore_common.telemetry import tracing


class Outbox:
    """Collects events during a unit of work; rows are inserted right before commit."""

    def __init__(self, conn: AsyncConnection, producer: str) -> None:
        self.conn = conn
        self.producer = producer
        self.pending: list[dict[str, Any]] = []
        self.flushed: list[dict[str, Any]] = []

    def add(self, event: Contract) -> Envelope:
        """Record `event` to be published once this transaction commits."""
        envelope = Envelope.of(event, self.producer)
        headers: dict[str, str] = {}
        # The trace of the request that caused the event travels with the row, so the
        # relay's publish (maybe in another process, later) continues the same trace.
        tracing.inject(headers)
        self.pending.append(
            {
                "event_id": envelope.id,
                "subject": envelope.subject,
                "payload": envelope.to_bytes(),
                "headers": headers,
                "created_at": envelope.occurred_at,
            }
        )
        return envelope

    async def flush(self) -> None:
        if not self.pending:
            return
        rows, self.pending = self.pending, []
        await self.conn.execute(insert(OUTBOX), rows)
        self.flushed.extend(rows)


class RelayHandoff(Protocol):
    """What the unit of work tells the relay after commit (`chore_common.outbox.relay.Relay`)."""

    def handoff(self, messages: Sequence[Mapping[str, Any]]) -> None: ...
