"""Read models as SQL tables in the checkpoint's own database (SQLite or PostgreSQL).

Each build of a projection has its own tables, named `<table>_v<version>`; readers
query a view named `<table>` that points at the active build, so a new build can be
filled beside the old one and swapped in atomically. Handlers write SQL with `{table}`
placeholders, which the batch resolves to the build's tables::

    sink = SqlSink(db, tables=["orders"], schema=[
        "CREATE TABLE {orders} (id TEXT PRIMARY KEY, total INTEGER, status TEXT)",
    ])

    async def placed(event, batch: SqlBatch) -> None:
        batch.execute("INSERT INTO {orders} VALUES (?, ?, 'placed')", (event.stream, ...))

Parameters are `?` on both databases: on PostgreSQL they are numbered `$1, $2, ...`
(a `?` in a string literal, a quoted identifier or a comment stays as it is; see
`eventbook.projections._placeholders`). Writes are recorded, not run: the runner flushes
them with the checkpoint update in one transaction. `await batch.fetch(...)` flushes
first, so reads see earlier writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from eventbook._errors import ValidationError
from eventbook.projections._buffer import Footprint, WriteBuffer
from eventbook.projections._placeholders import numbered
from eventbook.projections._ports import ProjectionDatabase, Row, Session

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WORD = re.compile(r"[a-z_][a-z0-9_]*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,50}")
_CACHE_LIMIT = 10_000


def check_identifier(what: str, name: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValidationError(
            f"{what} {name!r} must be a plain SQL identifier (letters, digits, '_'; ≤ 51 chars)"
        )
    return name


def versioned(table: str, version: int) -> str:
    return f"{table}_v{version}"


class TableNames:
    """Resolves `{table}` placeholders to one build's table names (and, on PostgreSQL,
    numbers the `?` parameters), caching the result with the statement's footprint (the
    build's tables it names)."""

    def __init__(
        self, tables: Iterable[str], version: int, *, dialect: str, reorder: bool = True
    ) -> None:
        self.version = version
        self._numbered = dialect == "postgresql"
        self.mapping = {table: versioned(table, version) for table in tables}
        self._reorder = reorder
        self._views = {table.lower() for table in self.mapping}
        self._tables = {table.lower() for table in self.mapping.values()}
        self._cache: dict[str, tuple[str, Footprint]] = {}
        self.statements = self._cache
        """The cache itself, for the batch's fast path: sql -> (resolved, footprint)."""

    def resolve(self, sql: str) -> str:
        return self.lookup(sql)[0]

    def lookup(self, sql: str) -> tuple[str, Footprint]:
        found = self._cache.get(sql)
        if found is None:
            resolved = _PLACEHOLDER.sub(self._replace, sql)
            if self._numbered:
                resolved = numbered(resolved)
            found = (resolved, self._footprint(resolved))
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()  # only dynamic SQL gets here; constants stay cheap
            self._cache[sql] = found
        return found

    def _footprint(self, resolved: str) -> Footprint:
        if not self._reorder:
            return None
        words = set(_WORD.findall(resolved.lower()))
        # A statement may reach the build's tables by another name: the readers' view
        # (the bare table name) or an object named after a table (`{a}_count`, a view in
        # the schema). Its footprint is then unknown, and it is never moved past a write.
        if words & self._views or any(
            word.startswith(table + "_") for word in words for table in self._tables
        ):
            return None
        named = frozenset(t for t in self.mapping.values() if t.lower() in words)
        return named or None

    def _replace(self, match: re.Match[str]) -> str:
        return self.mapping.get(match.group(1), match.group(0))


class SqlBatch:
    """What a handler writes through: buffered writes, reads in the batch's transaction."""

    __slots__ = (
        "_buffer",
        "_names",
        "_session",
        "_statements",
        "dialect",
        "out_of_order",
        "version",
    )

    def __init__(self, session: Session, names: TableNames, *, out_of_order: bool = False):
        self._session = session
        self._names = names
        self._statements = names.statements
        self._buffer = WriteBuffer()
        self.dialect = session.dialect
        self.version = names.version
        self.out_of_order = out_of_order
        """True when a parked event is retried after later events were applied."""

    def table(self, name: str) -> str:
        """The real (versioned) name of a declared table."""
        return self._names.mapping[name]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Record a write; it runs when the batch commits (or before the next read)."""
        if isinstance(params, list):  # kept until the flush: a caller may reuse its list
            params = tuple(params)
        found = self._statements.get(sql)
        if found is None:
            found = self._names.lookup(sql)
        groups = self._buffer.groups
        if groups and groups[-1][0] is found[0]:  # the hot path: same statement again
            groups[-1][1].append(params)
        else:
            self._buffer.add(found[0], params, found[1])

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query inside the batch's transaction, after the writes recorded so far."""
        return await self._session.fetch(self._buffer, self._names.resolve(sql), params)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    @property
    def buffer(self) -> WriteBuffer:
        return self._buffer


class SqlSink:
    """Tables in the projection database; `schema` creates them (with `{table}` names).

    `reorder=False` keeps every write in handler order; needed only when the tables are
    tied by foreign keys or triggers (see `eventbook.projections._buffer`).
    """

    commits_with_checkpoint = True
    """Writes commit in the checkpoint's transaction, so each partition's lease fences
    them: a partitioned projection may use this sink."""

    def __init__(
        self,
        database: ProjectionDatabase,
        *,
        tables: Sequence[str],
        schema: Sequence[str],
        reorder: bool = True,
    ) -> None:
        if isinstance(tables, str) or not tables:
            raise ValidationError("tables must be a non-empty list of table names")
        if database.dialect not in ("sqlite", "postgresql"):
            raise ValidationError(f"SqlSink needs a SQL database, not {database.dialect!r}")
        self._database = database
        self.tables = tuple(check_identifier("table name", t) for t in tables)
        self.schema = tuple(schema)
        self.reorder = reorder
        self._names: dict[int, TableNames] = {}

    @property
    def database(self) -> ProjectionDatabase:
        return self._database

    def names(self, version: int) -> TableNames:
        names = self._names.get(version)
        if names is None:
            names = self._names[version] = TableNames(
                self.tables, version, dialect=self._database.dialect, reorder=self.reorder
            )
        return names

    def begin(self, session: Session, version: int, *, out_of_order: bool = False) -> SqlBatch:
        return SqlBatch(session, self.names(version), out_of_order=out_of_order)

    async def flush(self, batch: SqlBatch) -> WriteBuffer:
        return batch.buffer

    def create_ddl(self, version: int) -> list[str]:
        names = self.names(version)
        return [names.resolve(statement) for statement in self.schema]

    def activate_ddl(self, version: int) -> list[str]:
        statements = []
        for table in self.tables:
            statements.append(f"DROP VIEW IF EXISTS {table}")
            statements.append(f"CREATE VIEW {table} AS SELECT * FROM {versioned(table, version)}")
        return statements

    def reset_ddl(self, version: int) -> list[str]:
        return self.drop_ddl(version) + self.create_ddl(version)

    def drop_ddl(self, version: int) -> list[str]:
        # PostgreSQL: CASCADE drops the readers' views too when this build is active
        # (a reset recreates them in the same transaction).
        cascade = " CASCADE" if self._database.dialect == "postgresql" else ""
        tables = reversed(self.tables)
        return [f"DROP TABLE IF EXISTS {versioned(t, version)}{cascade}" for t in tables]

    async def clear(self, version: int, epoch: int) -> None:
        return None
