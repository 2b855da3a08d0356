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
from collections.abc import Mapping
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from framecast.store.prepared import PreparedSelect

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

# connections the pool keeps for reads: a read holds one for its round trip only, so a few serve
# hundreds of polls in flight (docs/configuration.md counts them in the connection budget)
READ_CONNECTIONS = 4


def supported(engine: Engine) -> bool:
    """PostgreSQL through psycopg, with psycopg's pool installed (the ``postgres`` extra brings both)."""
    return (
        engine.dialect.name == "postgresql"
        and engine.dialect.driver == "psycopg"
        and find_spec("psycopg_pool") is not None
    )


class AsyncReads:
    """A pool of async connections to ``engine``'s database, opened on the loop that calls :meth:`open`."""

    def __init__(self, engine: Engine, *, size: int = READ_CONNECTIONS) -> None:
        self.dialect = engine.dialect
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        self._conninfo = " ".join(args)
        self._kwargs = {**kwargs, "autocommit": True}
        self._size = size
        self._pool: AsyncConnectionPool[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lost: type[Exception] = Exception

    async def open(self) -> None:
        # imported here: psycopg is the postgres extra's, and SQLite installs run without it
        from psycopg import OperationalError
        from psycopg_pool import AsyncConnectionPool

        self._lost = OperationalError  # what a dropped connection raises

        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            self._conninfo, kwargs=self._kwargs, min_size=1, max_size=self._size, open=False
        )
        await pool.open()
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

    async def rows(self, stmt: PreparedSelect, values: Mapping[str, Any]) -> list[Any]:
        """``stmt``'s rows for ``values``. When the server has dropped a connection (a restart, a
        failover), the pool discards it, tests its idle ones (they were likely dropped too) and the read is
        tried once more."""
        if self._pool is None:
            raise RuntimeError("AsyncReads.rows before open()")
        try:
            async with self._pool.connection() as conn:
                return await stmt.rows_async(conn, values)
        except self._lost:
            await self._pool.check()
            async with self._pool.connection() as conn:
                return await stmt.rows_async(conn, values)
