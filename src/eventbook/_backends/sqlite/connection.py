"""Opening and configuring the SQLite connections the store's threads own."""

from __future__ import annotations

import sqlite3
import time

from eventbook._backends.sqlite.options import SQLiteOptions
from eventbook._errors import UnavailableError

MEMORY = ":memory:"


def open_connection(
    path: str,
    options: SQLiteOptions,
    *,
    read_only: bool = False,
    check_same_thread: bool = True,
) -> sqlite3.Connection:
    """A connection in autocommit mode: the store issues BEGIN and COMMIT itself."""
    try:
        connection = sqlite3.connect(
            path,
            isolation_level=None,
            timeout=options.busy_timeout / 1000,
            check_same_thread=check_same_thread,
        )
    except sqlite3.Error as exc:
        raise UnavailableError(f"cannot open the SQLite database {path!r}: {exc}") from exc
    try:
        # Pragma values cannot be bound parameters; both come from validated options.
        connection.execute(f"PRAGMA busy_timeout = {options.busy_timeout}")
        connection.execute(f"PRAGMA synchronous = {options.synchronous}")
        if read_only:
            connection.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        connection.close()
        raise UnavailableError(f"cannot use the SQLite database {path!r}: {exc}") from exc
    return connection


def enable_wal(connection: sqlite3.Connection, path: str) -> None:
    """Switch the database file to write-ahead logging, so readers never block the writer.

    The journal mode is stored in the file, so this holds for every later connection too.
    """
    if path == MEMORY:
        return  # an in-memory database has one connection and no file to log to
    (mode,) = _switch_to_wal(connection)
    if str(mode).lower() != "wal":
        raise UnavailableError(
            f"SQLite database {path!r} cannot use write-ahead logging (journal mode stays"
            f" {mode!r}); eventbook needs WAL, which needs a local file system"
        )


def _switch_to_wal(connection: sqlite3.Connection) -> tuple[str]:
    # The switch needs an exclusive lock, and SQLite does not wait for that one: while
    # another connection opens the same new file, it fails at once with "database is
    # locked". Try again for as long as busy_timeout allows any other wait.
    (timeout_ms,) = connection.execute("PRAGMA busy_timeout").fetchone()
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        try:
            row: tuple[str] = connection.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.002)
        else:
            return row
