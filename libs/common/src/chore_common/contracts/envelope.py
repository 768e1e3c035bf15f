"""The envelope every event travels in (SPEC.md "Events").

`id` is also the JetStream `Nats-Msg-Id`, so a republished row is dropped as a duplicate
by the stream, and it is the key of every consumer's inbox. Parsing ignores unknown
fields: a newer producer may add envelope fields without breaking older consumers.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chore_common.contracts.registry import Contract

P = TypeVar("P", bound=Contract)


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: UUID = Field(description="Unique event id; also the Nats-Msg-Id and the inbox key")
    type: str = Field(description="Event type, also the NATS subject, e.g. tasks.task.created")
    version: int = Field(ge=1, description="Major version of the payload contract")
    occurred_at: AwareDatetime = Field(description="When the change happened (UTC)")
    producer: str = Field(description="Service that produced the event")
    data: dict[str, Any] = Field(description="The payload, shaped by the contract")

    @classmethod
    def of(
        cls,
        event: Contract,
        producer: str,
        *,
        id: UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        return cls(
            id=id or uuid4(),
            type=event.TYPE,
            version=event.VERSION,
            occurred_at=occurred_at or datetime.now(UTC),
            producer=producer,
            data=event.model_dump(mode="json"),
        )

    @property
    def subject(self) -> str:
        return self.type

    def payload(self, model: builtins.type[P]) -> P:
        """The typed payload; raises pydantic.ValidationError when `data` does not fit."""
        return model.model_validate(self.data)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)
