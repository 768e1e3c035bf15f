"""SQLAlchemy's aiosqlite dialect with a cursor that makes one trip per statement.

aiosqlite runs each SQLite connection in its own thread, and every call is a trip there
and back: a queue put that wakes the thread, then a `call_soon_threadsafe` that wakes the
event loop. SQLAlchemy's cursor adapter makes three or four per statement (open a cursor,
execute, fetch all, close). On this project's 2-vCPU VMs a trip costs 0.1-0.3 ms of waiting
for the other side to wake, so the trips, not SQLite, were most of a write's time: a
message send (BEGIN, UPDATE, two INSERTs, COMMIT) took ~5 ms with the CPU mostly idle.

`_OneTripCursor` does the whole statement in one call in the connection's thread and hands
back the description, the rows, rowcount and lastrowid together.

The dialect also queues this process's write transactions on one asyncio lock
(`take_write_lock`, called by the engine right before `BEGIN IMMEDIATE`; released once the
COMMIT or ROLLBACK has run). SQLite lets one writer in at a time and makes the others poll
(the busy handler sleeps 1, 2, 5, 10 ... ms between tries in their threads), so a lock
released while its waiters slept stayed unused: at 32 concurrent writers that idle time
was a third of the database's throughput. In order on the lock, the next transaction
starts the moment the last one ends; other processes on the same file still meet SQLite's
own wait (busy_timeout).

Everything else is SQLAlchemy's aiosqlite dialect as it is; the URL keeps saying
`sqlite+aiosqlite` and `create_engine` picks this dialect for it.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, Final, Self

from sqlalchemy import exc as sa_exc
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


def _raw(connection: object) -> object:
    """The DBAPI connection itself: the dialect is handed either it or the pool's proxy."""
    return getattr(connection, "dbapi_connection", connection)


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
    # As long as SQLite's own busy_timeout: past it a writer gets "database is locked".
    write_lock_timeout_s = 5.0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._write_lock: asyncio.Lock | None = None
        self._writer: object | None = None  # the DBAPI connection holding the lock

    @classmethod
    def import_dbapi(cls) -> _DBAPI:
        return _DBAPI(__import__("aiosqlite"), __import__("sqlite3"))

    # -- this process's write transactions, one at a time ------------------------------

    def take_write_lock(self, connection: object) -> None:
        """Wait (in the calling greenlet) until no other transaction of this engine is open."""
        dbapi_connection = _raw(connection)
        if self._writer is dbapi_connection:
            return
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        try:
            await_(asyncio.wait_for(self._write_lock.acquire(), self.write_lock_timeout_s))
        except TimeoutError:
            # As SQLite says it past its busy_timeout (and mapped to 503 the same way).
            locked = sqlite3.OperationalError("database is locked")
            raise sa_exc.OperationalError("BEGIN IMMEDIATE", None, locked) from None
        self._writer = dbapi_connection

    def _release_write_lock(self, connection: object) -> None:
        if self._writer is _raw(connection) and self._write_lock is not None:
            self._writer = None
            self._write_lock.release()

    def do_commit(self, dbapi_connection: Any) -> None:
        super().do_commit(dbapi_connection)  # type: ignore[no-untyped-call]
        self._release_write_lock(dbapi_connection)  # a failed COMMIT is rolled back next

    def do_rollback(self, dbapi_connection: Any) -> None:
        try:
            super().do_rollback(dbapi_connection)  # type: ignore[no-untyped-call]
        finally:
            self._release_write_lock(dbapi_connection)

    def do_close(self, dbapi_connection: Any) -> None:
        try:
            super().do_close(dbapi_connection)  # type: ignore[no-untyped-call]
        finally:
            self._release_write_lock(dbapi_connection)

    def do_terminate(self, dbapi_connection: Any) -> None:
        try:
            super().do_terminate(dbapi_connection)
        finally:
            self._release_write_lock(dbapi_connection)


registry.register(f"sqlite.{DRIVER}", __name__, "OneTripSQLiteDialect")
