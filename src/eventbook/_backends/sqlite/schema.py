"""Creating and upgrading the store's tables: a ledger of applied migrations.

Opening a database brings it to the newest schema this eventbook knows, applying the
missing `migrations/NNNN_*.sql` in one transaction. A database whose schema is newer
than this eventbook is refused before anything in the file changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from eventbook._backends.sqlite.connection import enable_wal
from eventbook._backends.sqlite.sql import Migration, migrations, queries, split_script
from eventbook._errors import SchemaVersionError, UnavailableError


def prepare_database(
    connection: sqlite3.Connection, path: str, known: Sequence[Migration] | None = None
) -> int:
    """Refuse a newer schema, switch to WAL, apply missing migrations; return the version."""
    known = migrations() if known is None else known
    try:
        current = schema_version(connection)
        _refuse_newer(current, known, path)
        enable_wal(connection, path)
        if known and current < known[-1].version:
            current = _migrate(connection, path, known)
        return current
    except sqlite3.DatabaseError as exc:
        raise UnavailableError(f"cannot use {path!r} as an eventbook SQLite store: {exc}") from exc


def schema_version(connection: sqlite3.Connection) -> int:
    """The newest migration applied to this database; 0 when eventbook never touched it."""
    q = queries()
    (exists,) = connection.execute(q.migrations_table_exists).fetchone()
    if not exists:
        return 0
    (version,) = connection.execute(q.schema_version).fetchone()
    return int(version)


def _migrate(connection: sqlite3.Connection, path: str, known: Sequence[Migration]) -> int:
    q = queries()
    # BEGIN IMMEDIATE takes the write lock: two processes opening a fresh file at once
    # apply each migration exactly once, the second finding the work done.
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute(q.create_migrations_table)
        current = schema_version(connection)
        _refuse_newer(current, known, path)
        for migration in known[current:]:
            for statement in split_script(migration.script):
                connection.execute(statement)
            applied_at = datetime.now(UTC).isoformat()
            connection.execute(q.record_migration, (migration.version, migration.name, applied_at))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        # A migration that rebuilds a table sets it for its rename (0004): whatever
        # happened, this connection goes on with SQLite's default.
        connection.execute("PRAGMA legacy_alter_table = OFF")
    return max(current, known[-1].version)


def _refuse_newer(current: int, known: Sequence[Migration], path: str) -> None:
    latest = known[-1].version if known else 0
    if current > latest:
        raise SchemaVersionError(
            f"the SQLite store {path!r} has schema version {current}, but this version of"
            f" eventbook knows versions up to {latest}; open it with a newer eventbook"
            " (nothing was changed)"
        )
