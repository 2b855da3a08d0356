"""The database handle: engine, sessions and migrations."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from framecast.domain import Task
from framecast.store import async_reads
from framecast.store.async_reads import READ_CONNECTIONS, AsyncReads
from framecast.store.prepared import PreparedSelect, json_loads
from framecast.store.row_memo import RowMemo
from framecast.store.sqlite_reads import SqliteReads

POOL_SIZE = 10  # connections a process keeps to a network database
# one-task reads at once in a process: under the pool size, leaving connections for workers and writes
READ_THREADS = POOL_SIZE - 2


# tasks polls built, remembered by their rows' values (``store/row_memo.py``): a task polled again while
# its row is unchanged (queued, or between progress writes) is not built again; about 16 KB each
# (bench/request_costs.py), so at most about 33 MB
REMEMBERED_TASKS = 2048


class Database:
    def __init__(
        self, url: str, *, remembered_tasks: int = REMEMBERED_TASKS, read_connections: int = READ_CONNECTIONS
    ) -> None:
        self.url = url
        self.polled_tasks: RowMemo[Task | None] = RowMemo(remembered_tasks)
        self.is_sqlite = url.startswith("sqlite")
        self._write_turn = threading.Lock()
        kwargs: dict[str, Any] = {"future": True, "json_deserializer": json_loads}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            # connections past pool_size are closed on return: under 50 concurrent polls the default 5
            # opened and closed connections all the time (bench/load.py --profile, PostgreSQL rows)
            kwargs.update(pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=5)
        if self.is_sqlite:
            _create_owner_only(url)
        self.engine: Engine = create_engine(url, **kwargs)
        self._sqlite_reads: SqliteReads | None = None
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            self._sqlite_reads = SqliteReads(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._sessions, "do_orm_execute", _sync_only_matched_rows)
        # polls on PostgreSQL are awaited on the event loop, on a pool of async connections of their own
        self.async_reads: AsyncReads | None = None
        if async_reads.supported(self.engine):
            self.async_reads = async_reads.AsyncReads(
                self.engine, size=read_connections, memo=self.polled_tasks
            )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any exception."""
        with self._sessions() as s, s.begin():
            yield s

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A transaction that writes, on SQLite after this process's other such writers, in turn.

        SQLite lets one writer in at a time and makes the others retry after sleeps of up to 100 ms, so
        under ten concurrent creates a few waited most of a second; queued on a lock each goes in as soon
        as the one before commits (create p99 about 3x lower, bench/results/load_round4*.md). Do not open
        another write session inside one: the lock is not reentrant.
        """
        if not self.is_sqlite:
            with self.session() as s:
                yield s
            return
        with self._write_turn, self.session() as s:
            yield s

    def fetch(self, stmt: PreparedSelect, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of one SELECT as the driver returns them, committed (no session: the poll path,
        ``store/prepared.py``; ``stmt.convert`` makes them named tuples of processed values)."""
        if self._sqlite_reads is None:
            return stmt.fetch(self.engine, values)
        with self._sqlite_reads.connection() as conn:
            return stmt.fetch_on(conn, values)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def open_async(self) -> None:
        """Open what is used on the event loop (the async read pool): from the app's lifespan."""
        if self.async_reads is not None:
            await self.async_reads.open()

    async def close_async(self) -> None:
        if self.async_reads is not None:
            await self.async_reads.close()

    def upgrade(self) -> None:
        command.upgrade(alembic_config(self.url), "head")

    def dispose(self) -> None:
        if self._sqlite_reads is not None:
            self._sqlite_reads.close()
        self.engine.dispose()


def _sync_only_matched_rows(state: ORMExecuteState) -> None:
    """ORM UPDATE/DELETE change loaded objects only where the database changed the row.

    The store's writes are compare-and-swaps (``UPDATE ... WHERE state = 'queued'``). SQLAlchemy's
    default ("evaluate") applies the new values to every loaded object whose attributes match the WHERE
    in Python, so after a swap that lost a race the session believed the losing write. "fetch" asks the
    database (RETURNING) which rows it changed.
    """
    if (state.is_update or state.is_delete) and "synchronize_session" not in state.execution_options:
        state.update_execution_options(synchronize_session="fetch")


def rows_matched(result: object) -> int:
    """Rows an UPDATE or INSERT ... SELECT matched: a compare-and-swap's verdict."""
    return int(getattr(result, "rowcount", 0))


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("framecast.store").joinpath("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _create_owner_only(url: str) -> None:
    """Create a SQLite file 0600 before SQLite does (it would follow the umask, usually 0644): it holds
    key hashes, webhook secrets and every tenant's prompts. SQLite gives its -wal and -shm files the
    database file's mode."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:") or os.path.exists(path):
        return
    fd = os.open(path, os.O_CREAT | os.O_RDONLY, 0o600)
    os.close(fd)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the HTTP threads read while a worker writes; busy_timeout turns lock contention into waiting.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
