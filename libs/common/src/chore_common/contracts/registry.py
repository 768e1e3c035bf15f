"""Every event type is a versioned pydantic model, registered here once.

`VERSION` is the major version: additive changes (a new optional field) keep it, anything
else is a new class with the next version, and producers publish both until consumers move.
Payloads ignore unknown fields, so an older consumer reads a newer minor shape unharmed.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

C = TypeVar("C", bound="type[Contract]")


class Contract(BaseModel):
    """The payload (`data`) of one event type at one major version."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]


class DuplicateContract(Exception):
    pass


_REGISTRY: dict[tuple[str, int], type[Contract]] = {}


def register(cls: C) -> C:
    """Class decorator: add a platform contract to the one registry (used for AsyncAPI)."""
    key = (cls.TYPE, cls.VERSION)
    known = _REGISTRY.get(key)
    if known is not None and known is not cls:
        raise DuplicateContract(f"{cls.TYPE} v{cls.VERSION} is already {known.__qualname__}")
    _REGISTRY[key] = cls
    return cls


def contract_for(event_type: str, version: int) -> type[Contract] | None:
    return _REGISTRY.get((event_type, version))


def registered() -> list[type[Contract]]:
    """All platform contracts, sorted by type then version (stable for generated docs)."""
    return [_REGISTRY[key] for key in sorted(_REGISTRY)]


def producer_of(event_type: str) -> str:
    """`tasks.task.created` -> `tasks`: the first subject token names the producing service."""
    return event_type.split(".", 1)[0]
