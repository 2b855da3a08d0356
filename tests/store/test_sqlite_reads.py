"""SQLite's poll reads run on connections of their own, outside SQLAlchemy's pool (store/sqlite_reads.py):
each read sees what was committed before it, an error does not spoil later reads, and dispose closes them."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select, update

from framecast.store.db import Database
from framecast.store.prepared import PreparedSelect

_META = MetaData()
_ITEMS = Table("items", _META, Column("id", String, primary_key=True), Column("value", Integer))


@pytest.fixture
def db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'reads.db'}")
    _META.create_all(db.engine)
    with db.engine.begin() as conn:
        conn.execute(_ITEMS.insert(), [{"id": f"i{n}", "value": 0} for n in range(8)])
    return db


def _read(db: Database, item: str) -> int:
    stmt = PreparedSelect(select(_ITEMS.c.value).where(_ITEMS.c.id == bindparam("id")), db.engine.dialect)
    rows = stmt.convert(db.fetch(stmt, {"id": item}))
    return int(rows[0].value)


def test_each_read_sees_every_write_committed_before_it(db: Database) -> None:
    for n in range(1, 30):
        with db.session() as s:  # a pooled connection: another connection than the reads'
            s.execute(update(_ITEMS).where(_ITEMS.c.id == "i0").values(value=n))
        assert _read(db, "i0") == n


def test_a_failed_read_leaves_later_reads_working(db: Database) -> None:
    broken = PreparedSelect(select(_ITEMS.c.value).where(_ITEMS.c.id == bindparam("id")), db.engine.dialect)
    broken.sql = "SELECT value FROM no_such_table WHERE id = ?"
    with pytest.raises(sqlite3.OperationalError):
        db.fetch(broken, {"id": "i0"})
    assert _read(db, "i1") == 0


def test_reads_from_many_threads_at_once_are_each_right(db: Database) -> None:
    with db.session() as s:
        for n in range(8):
            s.execute(update(_ITEMS).where(_ITEMS.c.id == f"i{n}").values(value=n * 10))
    wrong: list[tuple[int, int]] = []

    def reader(n: int) -> None:
        for _ in range(200):
            got = _read(db, f"i{n}")
            if got != n * 10:
                wrong.append((n, got))

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_dispose_closes_the_read_connections(db: Database) -> None:
    assert _read(db, "i0") == 0
    kept = list(db._sqlite_reads._idle)  # type: ignore[union-attr]
    assert kept, "a read's connection is kept for the next one"
    db.dispose()
    with pytest.raises(sqlite3.ProgrammingError):
        kept[0].execute("SELECT 1")
