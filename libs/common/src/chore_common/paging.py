"""Keyset pagination as use cases and repositories see it: pure data, no HTTP, no SQL.

Every list pages newest first on (created_at, id), so inserts never shift a page. The
cursor a client holds is the wire form of a `PageKey` (`chore_common.http.pagination`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, NamedTuple, TypeVar
from uuid import UUID

T = TypeVar("T")


class PageKey(NamedTuple):
    """Where a page ended: rows strictly before (created_at, id) come next. A tuple, so it
    compares with a row's `(created_at, id)` as the order itself does."""

    created_at: datetime
    id: UUID


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of rows and the key of the next one (None on the last page)."""

    items: list[T]
    next_key: PageKey | None
