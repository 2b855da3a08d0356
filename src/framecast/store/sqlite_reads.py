"""Connections for the one-statement reads a SQLite service runs on its event loop (GET one task).

Such a read is a SELECT in autocommit: it holds no transaction, so a connection needs no reset between
reads. SQLAlchemy's pool still checked one out and back in for each (its proxy, its events, the
rollback on return), which cost about as much as running the statement (``bench/request_costs.py``,
the pieces of a poll). Here a read takes a connection from a free list and puts it back. Connections are
opened through the engine (so its ``connect`` listeners set the same pragmas) and detached from its pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine

# idle connections kept: reads on the event loop use one at a time, a few threads more than that
KEEP_IDLE = 4


class SqliteReads:
    def __init__(self, engine: Engine, *, keep_idle: int = KEEP_IDLE) -> None:
        self._engine = engine
        self._keep_idle = keep_idle
        # list.pop and list.append are atomic under the GIL: no lock for the threads that share it
        self._idle: list[Any] = []

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A ``sqlite3.Connection`` for one read; closed instead of kept if the read raised."""
        try:
            conn = self._idle.pop()
        except IndexError:
            conn = self._open()
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        if len(self._idle) < self._keep_idle:
            self._idle.append(conn)
        else:
            conn.close()

    def _open(self) -> Any:
        proxied = self._engine.raw_connection()
        conn = proxied.driver_connection
        proxied.detach()  # ours now: the pool forgets it (and never hands it to anyone else)
        return conn

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
