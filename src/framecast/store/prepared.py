"""A SELECT compiled once per database dialect and run on the driver's own cursor.

The poll path (GET one task) runs one statement per request. Through a SQLAlchemy ``Connection`` the
read, conversion to the domain task included, took about 1.6 times as long as it does here (parameter
construction, execution context, result metadata; ``bench/request_costs.py``). This runs the statement
SQLAlchemy compiled, with SQLAlchemy's own result processors for each column (dates SQLite stores as
text, JSON), so the values are those a ``Connection`` would have returned (``tests/store/test_read_task.py``).
"""

from __future__ import annotations

import functools
import json
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, Engine, Select
from sqlalchemy.engine import Dialect


class PreparedSelect:
    """``stmt`` compiled for ``dialect``: its SQL text, how its parameters are passed, its row type."""

    def __init__(self, stmt: Select[Any], dialect: Dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        # qmark/format drivers (sqlite3) take a tuple in the compiled order, named ones (psycopg) a dict
        self.positions: tuple[str, ...] | None = (
            tuple(compiled.positiontup) if compiled.positiontup is not None else None
        )
        self.dialect = dialect
        # one statement needs no transaction: psycopg would send BEGIN before it and the pool ROLLBACK
        # after it, two round trips more than the SELECT (sqlite3 begins none for a SELECT anyway)
        self.autocommit = dialect.name == "postgresql"
        self.columns = list(stmt.selected_columns)
        self._index = {c.key: i for i, c in enumerate(self.columns)}
        self.row_type: Any = namedtuple("Record", [c.key for c in self.columns], rename=True)  # type: ignore[misc]
        self.processors: list[tuple[int, Callable[[Any], Any]]] | None = None

    def column_index(self, key: str) -> int:
        """Where the column ``key`` is in each row."""
        return self._index[key]

    def _processors(self, cursor: Any) -> list[tuple[int, Callable[[Any], Any]]]:
        """Each column's converter, chosen (as a ``Connection`` does) by the driver's type code for it, on
        the first run (psycopg builds ``cursor.description`` anew on each access)."""
        if self.processors is None:
            found = [
                c.type.dialect_impl(self.dialect).result_processor(self.dialect, d[1])
                for c, d in zip(self.columns, cursor.description, strict=True)
            ]
            for i, c in enumerate(self.columns):
                if found[i] is None and isinstance(c.type, JSON):
                    found[i] = _json_from_text  # psycopg decodes JSON itself, unless told not to
            self.processors = [(i, p) for i, p in enumerate(found) if p is not None]
        return self.processors

    def params(self, values: Mapping[str, Any]) -> tuple[Any, ...] | Mapping[str, Any]:
        return values if self.positions is None else tuple(values[name] for name in self.positions)

    def rows(self, engine: Engine, values: Mapping[str, Any]) -> list[Any]:
        """Every row of the statement for ``values``, each a named tuple of processed column values, on a
        connection from ``engine``'s pool."""
        return self.convert(self.fetch(engine, values))

    def rows_on(self, driver_connection: Any, values: Mapping[str, Any]) -> list[Any]:
        """:meth:`rows` on a driver connection the caller holds (in autocommit, or SQLite's)."""
        return self.convert(self.fetch_on(driver_connection, values))

    async def rows_async(self, conn: Any, values: Mapping[str, Any]) -> list[Any]:
        """:meth:`rows` on an async driver connection (psycopg's ``AsyncConnection``, in autocommit)."""
        return self.convert(await self.fetch_async(conn, values))

    # the rows as the driver returns them, and their conversion: apart, so that what is made of the
    # rows can be remembered by the driver's values (``store/row_memo.py``)

    def fetch(self, engine: Engine, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        dbapi = engine.raw_connection()
        driver: Any = dbapi.driver_connection
        try:
            if self.autocommit:
                driver.autocommit = True
            return self.fetch_on(driver, values)
        finally:
            if self.autocommit:
                driver.autocommit = False
            dbapi.close()  # back to the pool

    def fetch_on(self, driver_connection: Any, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        cursor = driver_connection.cursor()
        try:
            cursor.execute(self.sql, self.params(values))
            raw: list[tuple[Any, ...]] = cursor.fetchall()
            self._processors(cursor)
        finally:
            cursor.close()
        return raw

    async def fetch_async(self, conn: Any, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        cursor = await conn.execute(self.sql, self.params(values))
        try:
            raw: list[tuple[Any, ...]] = await cursor.fetchall()
            self._processors(cursor)
        finally:
            await cursor.close()
        return raw

    def convert(self, raw: Sequence[tuple[Any, ...]]) -> list[Any]:
        """The named tuples of processed values of rows :meth:`fetch` returned."""
        processors = self.processors
        if not processors:
            return [self.row_type._make(r) for r in raw]
        out = []
        for r in raw:
            values = list(r)
            for i, process in processors:
                values[i] = process(values[i])
            out.append(self.row_type._make(values))
        return out


def json_loads(text: str | bytes) -> Any:
    """JSON columns as read: orjson, about 3x the standard library on a task's request (three such
    columns on every poll); the standard library for what orjson refuses and Python wrote (NaN)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _json_from_text(value: Any) -> Any:
    """A JSON column from a driver that decodes JSON (psycopg): decoded already on SQLAlchemy's
    connections, text on the poll's own (``store/async_reads.py``), so that rows can be remembered by
    their values (``store/row_memo.py``). The store's JSON columns hold objects, so a string here is
    always the undecoded text, never a decoded JSON string."""
    return json_loads(value) if isinstance(value, str | bytes) else value


@functools.cache
def prepared(stmt: Select[Any], dialect: Dialect) -> PreparedSelect:
    """One compilation per statement and dialect for the life of the process."""
    return PreparedSelect(stmt, dialect)
