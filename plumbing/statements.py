"""Core statements compiled once and run straight on the driver's cursor, for the hot path.

Every transition runs about eight small statements. Through SQLAlchemy's `Connection.execute`
each cost 25-40 us of Python here (execution context, result object, compiled-cache lookup)
against 2-10 us for the driver itself, which made them a third of a transition's work. A
`Prepared` statement is compiled once per dialect (and per set of parameter names for
INSERT and UPDATE), its bind and result processors (times on SQLite, JSON) worked out once,
and run on the DB-API connection of the session's own transaction: the same SQL, the same
values on disk, the same transaction and writer lock, without the per-call machinery.

What it leaves out, on purpose: Python-side column defaults (the caller passes every value;
preparing a statement that needs one fails at once), expanding IN lists, RETURNING. Driver
errors come out as SQLAlchemy's `DBAPIError`s, as from `execute`, and a lost connection is
invalidated, so the error handlers and the pool behave the same.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Insert, Select, Update
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session

Processor = Callable[[Any], Any] | None


@dataclass
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the bind names, in the driver's order when it is positional
    positional: bool
    fixed: Mapping[str, Any]  # values the statement itself carries (`id = 1`)
    binds: Mapping[str, Processor]
    columns: tuple[Any, ...]  # a SELECT's columns
    keys: tuple[str, ...]  # and the keys its rows are answered under
    # A SELECT's result processors by row key, for the columns that have one, from the driver's
    # first description of its columns (some depend on the type it reports: PostgreSQL's
    # numerics).
    processed: tuple[tuple[str, Callable[[Any], Any]], ...] | None = None


class Prepared:
    """One statement, compiled per dialect on first use; see the module's docstring."""

    def __init__(self, statement: Select[Any] | Insert | Update) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, ...], _Compiled] = {}

    def rows(self, session: Session, params: Mapping[str, Any] | None = None
             ) -> list[dict[str, Any]]:
        """A SELECT's rows as dicts keyed like the statement's columns."""
        connection = session.connection()
        compiled = self._for(connection.dialect, ())
        cursor = self._run(connection, compiled, [params or {}], many=False)
        try:
            found = cursor.fetchall()
            if compiled.processed is None:
                dialect = connection.dialect
                processors = (
                    column.type.dialect_impl(dialect).result_processor(dialect, described[1])
                    for column, described in zip(compiled.columns, cursor.description,
                                                 strict=True))
                compiled.processed = tuple(
                    (key, process) for key, process in zip(compiled.keys, processors,
                                                           strict=True) if process is not None)
        finally:
            cursor.close()
        keys = compiled.keys
        rows = [dict(zip(keys, row, strict=True)) for row in found]
        # Only the columns that have a processor (times on SQLite, JSON): a page of proposals
        # is 33 columns a row, 8 of them processed.
        for key, process in compiled.processed:
            for row in rows:
                row[key] = process(row[key])
        return rows

    def first(self, session: Session, params: Mapping[str, Any] | None = None
              ) -> dict[str, Any] | None:
        found = self.rows(session, params)
        return found[0] if found else None

    def run(self, session: Session, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
            ) -> None:
        """An INSERT or UPDATE: once, or once per mapping (all with the same keys)."""
        many = not isinstance(params, Mapping)
        batch: Sequence[Mapping[str, Any]] = params if many else [params]  # type: ignore[list-item,assignment]
        if not batch:
            return
        connection = session.connection()
        compiled = self._for(connection.dialect, tuple(sorted(batch[0])))
        self._run(connection, compiled, batch, many=many).close()

    def _run(self, connection: Connection, compiled: _Compiled,
             batch: Iterable[Mapping[str, Any]], *, many: bool) -> Any:
        values = [self._values(compiled, given) for given in batch]
        raw = connection.connection.driver_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            if many:
                cursor.executemany(compiled.sql, values)
            else:
                cursor.execute(compiled.sql, values[0])
        except connection.dialect.loaded_dbapi.Error as error:
            cursor.close()
            lost = connection.dialect.is_disconnect(error, raw, cursor)
            if lost:
                connection.invalidate(error)
            raise DBAPIError.instance(
                compiled.sql, values[0] if values else None, error,
                connection.dialect.loaded_dbapi.Error, connection_invalidated=lost,
                dialect=connection.dialect) from error
        return cursor

    @staticmethod
    def _values(compiled: _Compiled, given: Mapping[str, Any]) -> Any:
        values = {**compiled.fixed, **given}
        binds = compiled.binds

        def bound(name: str) -> Any:
            process = binds[name]
            return values[name] if process is None else process(values[name])

        if compiled.positional:
            return tuple(bound(name) for name in compiled.names)
        return {name: bound(name) for name in compiled.names}

    def _for(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        # Two engines of one database may still differ in driver or parameter style.
        key = (dialect.name, dialect.driver, dialect.paramstyle, *keys)
        cached = self._compiled.get(key)
        if cached is None:
            cached = self._compiled[key] = self._compile(dialect, keys)
        return cached

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        statement = self.statement
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) or None)
        assert isinstance(compiled, SQLCompiler)
        if compiled.insert_prefetch or compiled.update_prefetch:
            missing = [column.key for column in
                       (*compiled.insert_prefetch, *compiled.update_prefetch)]
            raise ValueError(f"pass every column a Prepared statement writes: {missing}")
        names = tuple(compiled.positiontup or ()) if dialect.positional else tuple(
            compiled.bind_names.values())
        binds = {}
        fixed = {}
        for bind, name in compiled.bind_names.items():
            binds[name] = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if not bind.required:
                fixed[name] = bind.effective_value
        columns: tuple[Any, ...] = ()
        if isinstance(statement, Select):
            columns = tuple(statement.selected_columns)
        elif not isinstance(statement, Insert | Update):
            raise TypeError(f"Prepared runs SELECT, INSERT and UPDATE, not {type(statement)}")
        return _Compiled(compiled.string, names, dialect.positional, fixed, binds, columns,
                         tuple(column.key for column in columns))
