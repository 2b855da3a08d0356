"""A SELECT compiled once per database dialect and run on the driver's own cursor.

The poll path (GET one task) runs one statement per request. Through a SQLAlchemy ``Connection`` the
read, conversion to the domain task included, took about 1.6 times as long as it does here (parameter
construction, execution context, result metadata; ``bench/request_costs.py``). This runs the statement
SQLAlchemy compiled, with SQLAlchemy's own result processors for each column (dates SQLite stores as
text, JSON), so the values are those a ``Connection`` would have returned (``tests/store/test_read_task.py``).
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, Select
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
        self.row_type: Any = namedtuple("Record", [c.key for c in self.columns], rename=True)  # type: ignore[misc]
        self.processors: list[tuple[int, Callable[[Any], Any]]] | None = None

    def _processors(self, cursor: Any) -> list[tuple[int, Callable[[Any], Any]]]:
        """Each column's converter, chosen (as a ``Connection`` does) by the driver's type code for it, on
        the first run (psycopg builds ``cursor.description`` anew on each access)."""
        if self.processors is None:
            found = [
                c.type.dialect_impl(self.dialect).result_processor(self.dialect, d[1])
                for c, d in zip(self.columns, cursor.description, strict=True)
            ]
            self.processors = [(i, p) for i, p in enumerate(found) if p is not None]
        return self.processors

    def params(self, values: Mapping[str, Any]) -> tuple[Any, ...] | Mapping[str, Any]:
        return values if self.positions is None else tuple(values[name] for name in self.positions)

    def rows(self, engine: Engine, values: Mapping[str, Any]) -> list[Any]:
        """Every row of the statement for ``values``, each a named tuple of processed column values, on a
        connection from ``engine``'s pool."""
        dbapi = engine.raw_connection()
        driver: Any = dbapi.driver_connection
        try:
            if self.autocommit:
                driver.autocommit = True
            return self.rows_on(driver, values)
        finally:
            if self.autocommit:
                driver.autocommit = False
            dbapi.close()  # back to the pool

    def rows_on(self, driver_connection: Any, values: Mapping[str, Any]) -> list[Any]:
        """:meth:`rows` on a driver connection the caller holds (in autocommit, or SQLite's)."""
        cursor = driver_connection.cursor()
        try:
            cursor.execute(self.sql, self.params(values))
            raw = cursor.fetchall()
            processors = self._processors(cursor)
        finally:
            cursor.close()
        return [self._convert(r, processors) for r in raw]

    async def rows_async(self, conn: Any, values: Mapping[str, Any]) -> list[Any]:
        """:meth:`rows` on an async driver connection (psycopg's ``AsyncConnection``, in autocommit)."""
        cursor = await conn.execute(self.sql, self.params(values))
        try:
            raw = await cursor.fetchall()
            processors = self._processors(cursor)
        finally:
            await cursor.close()
        return [self._convert(r, processors) for r in raw]

    def _convert(self, raw: tuple[Any, ...], processors: list[tuple[int, Callable[[Any], Any]]]) -> Any:
        if not processors:
            return self.row_type._make(raw)
        values = list(raw)
        for i, process in processors:
            values[i] = process(values[i])
        return self.row_type._make(values)


@functools.cache
def prepared(stmt: Select[Any], dialect: Dialect) -> PreparedSelect:
    """One compilation per statement and dialect for the life of the process."""
    return PreparedSelect(stmt, dialect)
