"""Protocols the services' use cases share. Pure (no SQL, no HTTP), so a service's
`usecases/ports.py` extends them and its unit tests fill them in with fakes:

    class TasksUnitOfWork(UnitOfWork[DomainEvent], Protocol):
        @property
        def tasks(self) -> TaskRepository: ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, Self, TypeVar

E_contra = TypeVar("E_contra", contravariant=True)

AfterCommit = Callable[[], Awaitable[None]]


class UnitOfWork(Protocol[E_contra]):
    """`async with uow:` opens a transaction; leaving without `commit()` rolls it back.

    `record(event)` publishes a domain event once the transaction commits (an outbox row in
    the same transaction); `after_commit(callback)` runs a side effect only after a commit.
    """

    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
    def record(self, event: E_contra) -> None: ...
    def after_commit(self, callback: AfterCommit) -> None: ...
