"""Reads on the event loop over psycopg's async connections, for PostgreSQL.

A poll is one SELECT. In a thread on the synchronous pool it paid a hand-off to the thread and back and
the GIL's churn between the loop and up to eight reading threads: 8-13% of the PostgreSQL poll's time
in the profile (bench/results/load_profile_round4.md), and the loop waited on the threads' wake-ups
under load. Here the round trip is awaited on the loop itself, on connections of its own pool.

The connections are opened with the arguments SQLAlchemy's psycopg dialect would use (its adapters
included), in autocommit: one statement needs no transaction. The pool lives on the loop that opens
it (the app's lifespan); a caller off that loop uses the synchronous path.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from importlib.util import find_spec
from typing import Any

from sqlalchemy import Engine

from framecast.domain import Task
from framecast.store.prepared import PreparedSelect
from framecast.store.read_batches import KeyedBatches
from framecast.store.row_memo import RowMemo

Rows = list[tuple[Any, ...]]

# connections the pool keeps for reads (``FRAMECAST_POLL_READ_CONNECTIONS``): a read holds one for its
# round trip only, and the polls that wait meanwhile go together in the next statement, so a few serve
# hundreds of polls in flight (docs/configuration.md counts them in the connection budget)
READ_CONNECTIONS = 2


def supported(engine: Engine) -> bool:
    """PostgreSQL through psycopg (the ``postgres`` extra brings it)."""
    return (
        engine.dialect.name == "postgresql"
        and engine.dialect.driver == "psycopg"
        and find_spec("psycopg") is not None
    )


async def _json_as_text(conn: Any) -> None:
    """JSON columns come back as their text, decoded by the statement's processors instead: a row of
    strings can be remembered by its values (``store/row_memo.py``), a row of dicts cannot."""
    from psycopg.types.string import TextLoader

    for name in ("json", "jsonb"):
        conn.adapters.register_loader(name, TextLoader)


class _Connections:
    """At most ``size`` open connections, each lent to one read at a time; a read that finds none free
    waits on a plain future, first come first served.

    psycopg_pool's waiter sets up an ``asyncio.wait_for`` (a task) per wait, and under 50 polls at once
    most polls waited. With this pool and the poll memo a PostgreSQL poll cost the server about two
    thirds of the CPU it did (bench/README.md, the API under load, round six). A read has its own
    deadline (the request's), not the pool's.
    """

    def __init__(self, connect: Callable[[], Awaitable[Any]], size: int) -> None:
        self._connect = connect
        self._size = size
        self._open = 0  # connections open or being opened
        self._idle: list[Any] = []
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._closed = False

    async def acquire(self) -> Any:
        if self._closed:
            raise RuntimeError("AsyncReads closed")
        if self._idle:
            return self._idle.pop()
        if self._open < self._size:
            self._open += 1
            return await self._open_one()
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            conn = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed a connection as it was cancelled
                self._hand_on(waiter.result())
            raise
        return conn if conn is not None else await self._open_one()  # None: a slot to open one in

    async def _open_one(self) -> Any:
        """A new connection in a slot already counted in ``_open``; the slot passes on if it fails."""
        try:
            return await self._connect()
        except BaseException:
            self._hand_on(None)
            raise

    def release(self, conn: Any) -> None:
        self._hand_on(conn)

    def discard(self, conn: Any) -> None:
        """A connection the server dropped: closed, and its slot given to a waiter or freed."""
        self._close_quietly(conn)
        self._hand_on(None)

    def discard_idle(self) -> None:
        """Close the idle connections (after one was found dropped, the others likely were too)."""
        while self._idle:
            self.discard(self._idle.pop())

    def _hand_on(self, conn: Any) -> None:
        """Give ``conn`` (or, for None, its slot) to the first waiter still waiting, else keep it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is None:
            self._open -= 1
        elif self._closed:  # lent out when the pool closed
            self._close_quietly(conn)
            self._open -= 1
        else:
            self._idle.append(conn)

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            await self._idle.pop().close()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(RuntimeError("AsyncReads closed"))
        self._waiters.clear()

    @staticmethod
    def _close_quietly(conn: Any) -> None:
        # pgconn.finish is the synchronous part of close(); a broken connection may refuse even that
        with contextlib.suppress(Exception):
            conn.pgconn.finish()


class AsyncReads:
    """Async connections to ``engine``'s database for one-statement reads, opened on the loop that calls
    :meth:`open` and used on it only."""

    def __init__(
        self, engine: Engine, *, size: int = READ_CONNECTIONS, memo: RowMemo[Task | None] | None = None
    ) -> None:
        self.dialect = engine.dialect
        # what reads made of their rows (``store/row_memo.py``): the database's, so both read paths share it
        self.memo: RowMemo[Task | None] = memo if memo is not None else RowMemo(0)
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        self._conninfo = " ".join(args)
        self._kwargs = {**kwargs, "autocommit": True}
        self._size = size
        self._pool: _Connections | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lost: type[Exception] = Exception
        self._idle: object = None  # psycopg's TransactionStatus.IDLE: no command in progress, no transaction
        # polls read together, by statement (``store/read_batches.py``)
        self.batches: dict[tuple[PreparedSelect, str, str], KeyedBatches[Any, Rows]] = {}

    async def open(self) -> None:
        # imported here: psycopg is the postgres extra's, and SQLite installs run without it
        from psycopg import AsyncConnection, OperationalError
        from psycopg.pq import TransactionStatus

        self._lost = OperationalError  # what a dropped connection raises
        self._idle = TransactionStatus.IDLE

        async def connect() -> Any:
            conn = await AsyncConnection.connect(self._conninfo, **self._kwargs)
            await _json_as_text(conn)
            return conn

        pool = _Connections(connect, self._size)
        pool.release(await pool.acquire())  # fail now, at startup, if the database cannot be reached
        self._pool, self._loop = pool, asyncio.get_running_loop()

    async def close(self) -> None:
        pool, self._pool, self._loop = self._pool, None, None
        if pool is not None:
            await pool.close()

    def usable(self) -> bool:
        """Open, and the calling coroutine runs on the pool's loop."""
        if self._pool is None:
            return False
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    async def fetch(self, stmt: PreparedSelect, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """``stmt``'s rows for ``values`` as the driver returns them (``stmt.convert`` processes them).

        When the server has dropped a connection (a restart, a failover), it is discarded with the idle
        ones (they were likely dropped too) and the read is tried once more on a new connection."""
        pool = self._pool
        if pool is None:
            raise RuntimeError("AsyncReads.fetch before open()")
        try:
            return await self._fetch_on(pool, stmt, values)
        except self._lost:
            pool.discard_idle()
            return await self._fetch_on(pool, stmt, values)

    async def fetch_by_key(self, stmt: PreparedSelect, param: str, column: str, key: Hashable) -> Rows:
        """The rows of ``stmt`` whose ``column`` is ``key``, where ``stmt`` selects the rows whose ``column``
        is any of the list bound to ``param``: reads of other keys that wait meanwhile share its round
        trip (``store/read_batches.py``)."""
        batches = self.batches.get((stmt, param, column))
        if batches is None:
            index = stmt.column_index(column)

            async def run(keys: Sequence[Any]) -> dict[Any, Rows]:
                found: dict[Any, Rows] = {}
                for row in await self.fetch(stmt, {param: list(keys)}):
                    found.setdefault(row[index], []).append(row)
                return found

            batches = KeyedBatches(run, missing=[], lanes=self._size)
            self.batches[(stmt, param, column)] = batches
        return await batches.get(key)

    async def _fetch_on(
        self, pool: _Connections, stmt: PreparedSelect, values: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        conn = await pool.acquire()
        try:
            rows = await stmt.fetch_async(conn, values)
        except self._lost:
            pool.discard(conn)
            raise
        except BaseException:
            # a cancelled or failed read may leave the connection mid-protocol: not lent again
            if conn.closed or conn.info.transaction_status != self._idle:
                pool.discard(conn)
            else:
                pool.release(conn)
            raise
        pool.release(conn)
        return rows
