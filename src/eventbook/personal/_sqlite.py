"""Data keys in the SQLite store's own file: the `eventbook_personal_keys` table."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import TypeVar

from eventbook._backends.sqlite.sql import Migration, migrations
from eventbook._errors import UnavailableError
from eventbook.personal._keys import StoredKey

T = TypeVar("T")

KEY_TABLE_MIGRATION = "personal_keys"
"""The name of the store's migration that makes the key table (IF NOT EXISTS: run here as
well, for a database that holds no events, such as the read models beside a NATS
store)."""


class SQLiteKeyStore:
    """Keys beside the events, in the same database file (the store's migration 3).

    One connection, used from a worker thread; key lookups are rare (the `Keyring`
    caches), so they are not worth a pool. Deleted key bytes are overwritten on disk
    (`secure_delete`), and the WAL is checkpointed after a forget.
    """

    def __init__(self, connection: sqlite3.Connection, path: str) -> None:
        self._connection = connection
        self._path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SQLiteKeyStore:
        def connect() -> sqlite3.Connection:
            connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            connection.execute("PRAGMA busy_timeout = 5000")
            connection.execute("PRAGMA secure_delete = ON")
            connection.execute(_key_table_migration().script)
            return connection

        try:
            return cls(await asyncio.to_thread(connect), path)
        except sqlite3.Error as exc:
            raise UnavailableError(f"cannot open the key table in {path!r}: {exc}") from exc

    async def fetch(self, subjects: Collection[str]) -> dict[str, StoredKey]:
        wanted = list(subjects)

        def read() -> dict[str, StoredKey]:
            found = {}
            for start in range(0, len(wanted), 500):  # SQLite's bound-parameter limit
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._connection.execute(
                    "SELECT subject, wrapped, master FROM eventbook_personal_keys"
                    f" WHERE subject IN ({marks})",
                    chunk,
                )
                found.update({s: StoredKey(w, m) for s, w, m in rows})
            return found

        return await self._run(read)

    async def add(self, subject: str, key: StoredKey) -> StoredKey:
        def insert() -> StoredKey:
            self._connection.execute(
                "INSERT INTO eventbook_personal_keys (subject, wrapped, master, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (subject) DO NOTHING",
                (subject, key.wrapped, key.master, _now()),
            )
            wrapped, master = self._connection.execute(
                "SELECT wrapped, master FROM eventbook_personal_keys WHERE subject = ?", (subject,)
            ).fetchone()
            return StoredKey(wrapped, master)

        return await self._run(insert)

    async def forget(self, subject: str) -> bool:
        def destroy() -> bool:
            had = self._connection.execute(
                "SELECT wrapped IS NOT NULL FROM eventbook_personal_keys WHERE subject = ?",
                (subject,),
            ).fetchone()
            self._connection.execute(
                "INSERT INTO eventbook_personal_keys (subject, wrapped, master, created_at,"
                " forgotten_at) VALUES (?, NULL, '', ?, ?) ON CONFLICT (subject) DO UPDATE"
                " SET wrapped = NULL, forgotten_at = excluded.forgotten_at",
                (subject, _now(), _now()),
            )
            # The old page images stay in the WAL until it is checkpointed and cut short.
            self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return bool(had and had[0])

        return await self._run(destroy)

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._connection.close)

    async def _run(self, work: Callable[[], T]) -> T:
        async with self._lock:
            try:
                return await asyncio.to_thread(work)
            except sqlite3.Error as exc:
                raise UnavailableError(f"the key table in {self._path!r}: {exc}") from exc


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _key_table_migration() -> Migration:
    """The store's migration that makes the key table, found by name (not by number:
    migrations of other features may come before it)."""
    return next(m for m in migrations() if m.name == KEY_TABLE_MIGRATION)
