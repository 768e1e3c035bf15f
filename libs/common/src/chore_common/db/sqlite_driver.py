"""SQLAlchemy's aiosqlite dialect with a cursor that makes one trip per statement.

aiosqlite runs each SQLite connection in its own thread, and every call is a trip there
and back: a queue put that wakes the thread, then a `call_soon_threadsafe` that wakes the
event loop. SQLAlchemy's cursor adapter makes three or four per statement (open a cursor,
execute, fetch all, close). On this project's 2-vCPU VMs a trip costs 0.1-0.3 ms of waiting
for the other side to wake, so the trips, not SQLite, were most of a write's time: a
message send (BEGIN, UPDATE, two INSERTs, COMMIT) took ~5 ms with the CPU mostly idle.

`_OneTripCursor` does the whole statement in one call in the connection's thread and hands
back the description, the rows, rowcount and lastrowid together. Everything else is
SQLAlchemy's aiosqlite dialect as it is; the URL keeps saying `sqlite+aiosqlite` and
`create_engine` picks this dialect for it.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, Final, Self

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util.concurrency import await_

DRIVER: Final = "chore_aiosqlite"

_Outcome = tuple[Any, list[Any], int, int | None]


def _run(aio: Any, operation: str, parameters: Any, many: bool) -> _Outcome:
    """In the connection's thread: execute, fetch everything, close."""
    cursor: sqlite3.Cursor = aio._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _OneTripCursor:
    """A DBAPI cursor whose results are already fetched when `execute` returns."""

    server_side = False
    __slots__ = (
        "_adapt_connection",
        "_connection",
        "_rows",
        "arraysize",
        "description",
        "lastrowid",
        "rowcount",
    )

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection: Any = adapt_connection._connection  # the aiosqlite.Connection
        self._rows: collections.deque[Any] = collections.deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    def _trip(self, operation: str, parameters: Any, *, many: bool) -> None:
        aio = self._connection
        try:
            outcome: _Outcome = await_(aio._execute(_run, aio, operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description, rows, self.rowcount, self.lastrowid = outcome
        self._rows = collections.deque(rows)

    def execute(self, operation: str, parameters: Any = None) -> None:
        self._trip(operation, parameters, many=False)

    def executemany(self, operation: str, seq_of_parameters: Any) -> None:
        self._trip(operation, seq_of_parameters, many=True)

    def close(self) -> None:
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        """What SQLAlchemy's async results call before handing rows over: nothing is
        open here (the sqlite3 cursor closed in its thread)."""

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> Sequence[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def nextset(self) -> None:
        return None

    def setinputsizes(self, *sizes: Any) -> None:
        return None

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _OneTripCursor  # type: ignore[assignment]


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        adapted = super().connect(*arg, **kw)
        return _Connection(self, adapted._connection)


class OneTripSQLiteDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True
    # Server-side cursors would stream with a trip per fetch; buffered results are all
    # this platform reads (pages are bounded by LIMIT).
    supports_server_side_cursors = False

    @classmethod
    def import_dbapi(cls) -> _DBAPI:
        return _DBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneTripSQLiteDialect")
