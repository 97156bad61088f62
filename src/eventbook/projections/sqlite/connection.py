"""SQLite connections as the read side uses them: one per thread, autocommit, WAL.

`flush` writes a batch's buffered groups; `Worker` runs work on one connection from one
dedicated thread (sqlite3 connections are not shared between threads).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from eventbook.projections._buffer import Group

T = TypeVar("T")
Connection = sqlite3.Connection


def flush(conn: Connection, groups: Sequence[Group]) -> None:
    """Run buffered writes: one `executemany` per group of identical statements."""
    for sql, rows in groups:
        if len(rows) == 1:
            conn.execute(sql, rows[0])
        else:
            conn.executemany(sql, rows)


def in_write_transaction(conn: Connection, work: Callable[[Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


class Worker:
    """One connection, used only from one thread, opened on first use."""

    def __init__(self, path: str, busy_timeout: float, label: str) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"eventbook-{label}")
        self._conn: Connection | None = None

    async def run(self, work: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, work)

    def _call(self, work: Callable[[Connection], T]) -> T:
        if self._conn is None:
            self._conn = connect(self._path, self._busy_timeout)
        return work(self._conn)

    async def close(self) -> None:
        def close(_: Connection) -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        try:
            await self.run(close)
        finally:
            self._executor.shutdown(wait=False)


def connect(path: str, busy_timeout: float = 30.0) -> Connection:
    """A connection as the read side uses it: autocommit (explicit BEGIN), WAL."""
    conn = sqlite3.connect(
        path,
        timeout=busy_timeout,
        isolation_level=None,
        check_same_thread=False,
        cached_statements=512,
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    # Rows a rebuild drops are overwritten, not left readable in free pages: after a
    # subject is forgotten, no copy of their personal data survives in the file.
    conn.execute("PRAGMA secure_delete=ON")
    return conn
