"""Checkpoints, leases and dead letters in SQLite, with read models beside them.

Every runner has its own connection, used from one dedicated thread: a batch's
writes, its checkpoint compare-and-set and its commit are one trip to that thread.
The lease is a row (owner, epoch, lease_until): a runner renews it with every commit
and while idle; a successor takes it once it expires, or at once when the owner was a
process on this host that no longer exists.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventbook.errors import ValidationError
from eventbook.projections.errors import ModeMismatch, ProjectionError, UnknownProjection
from eventbook.projections.ports import CheckpointRow, ParkedEvent, ParkedStatus, Row
from eventbook.projections.schema import (
    CHECKPOINT_COLUMNS,
    CHECKPOINTS,
    PARKED,
    PARKED_COLUMNS,
    PARKED_SUMMARY,
    checkpoint_row,
    create_tables,
    owner_is_dead,
    parked_row,
)
from eventbook.projections.sqlite_connection import (
    WHERE,
    Connection,
    Worker,
    connect,
    flush,
    in_write_transaction,
)
from eventbook.projections.sqlite_session import SQLiteSession
from eventbook.wakeup import Wakeup

__all__ = ["SQLiteDatabase", "SQLiteSession", "connect", "flush"]


class SQLiteDatabase:
    """Projection checkpoints (and same-database read models) in one SQLite file."""

    dialect = "sqlite"
    read_ahead = False
    """Commits run in a thread that takes the GIL for every row it binds; decoding the
    next page in the event loop meanwhile slows both down (measured: up to 2x), so a
    runner reads, handles and commits in turn."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self.path = os.fspath(path)
        if self.path in ("", ":memory:") or self.path.startswith("file::memory:"):
            raise ValidationError(
                "projections need a SQLite file that several connections can open,"
                " not an in-memory database; pass a path (a temporary file in tests)"
            )
        self.busy_timeout = busy_timeout
        self.progress = Wakeup()
        self._admin = Worker(self.path, busy_timeout, "projections-admin")
        self._reader = Worker(self.path, busy_timeout, "projections-reader")

    @classmethod
    async def open(cls, path: str | os.PathLike[str], **options: Any) -> SQLiteDatabase:
        database = cls(path, **options)
        await database.setup()
        return database

    async def setup(self) -> None:
        def work(conn: Connection) -> None:
            for statement in create_tables("sqlite"):
                conn.execute(statement)

        await self._admin.run(lambda conn: in_write_transaction(conn, work))

    async def register(
        self, name: str, version: int, mode: str, create: Sequence[str], activate: Sequence[str]
    ) -> None:
        def work(conn: Connection) -> None:
            known = conn.execute(f"SELECT mode FROM {CHECKPOINTS} WHERE {WHERE}", (name, version))
            row = known.fetchone()
            if row is not None:
                if row[0] != mode:
                    raise ModeMismatch(name, version, row[0], mode)
                return
            conn.execute(
                f"INSERT INTO {CHECKPOINTS} (name, version, mode, updated_at) VALUES (?, ?, ?, ?)",
                (name, version, mode, time.time()),
            )
            for statement in create:
                conn.execute(statement)
            active = conn.execute(f"SELECT 1 FROM {CHECKPOINTS} WHERE name = ? AND active", (name,))
            if active.fetchone() is None:
                conn.execute(f"UPDATE {CHECKPOINTS} SET active = 1 WHERE {WHERE}", (name, version))
                for statement in activate:
                    conn.execute(statement)

        await self._admin.run(lambda conn: in_write_transaction(conn, work))

    async def acquire(
        self, name: str, version: int, owner: str, ttl: float
    ) -> SQLiteSession | None:
        def work(conn: Connection) -> int | None:
            row = conn.execute(
                f"SELECT owner, lease_until, epoch, retired FROM {CHECKPOINTS} WHERE {WHERE}",
                (name, version),
            ).fetchone()
            if row is None:
                raise UnknownProjection(f"{name}@v{version}")
            holder, until, epoch, retired = row
            now = time.time()
            if retired:
                return None
            if holder not in (None, owner) and until > now and not owner_is_dead(holder):
                return None
            conn.execute(
                f"UPDATE {CHECKPOINTS} SET owner = ?, epoch = ?, lease_until = ? WHERE {WHERE}",
                (owner, epoch + 1, now + ttl, name, version),
            )
            return int(epoch) + 1

        epoch = await self._admin.run(lambda conn: in_write_transaction(conn, work))
        if epoch is None:
            return None
        worker = Worker(self.path, self.busy_timeout, f"projection-{name}")
        return SQLiteSession(self, worker, name, version, owner=owner, epoch=epoch, ttl=ttl)

    async def session(self, name: str, version: int) -> SQLiteSession:
        worker = Worker(self.path, self.busy_timeout, f"projection-{name}")
        return SQLiteSession(self, worker, name, version, owner=None, epoch=0, ttl=0.0)

    async def checkpoint(self, name: str, version: int) -> CheckpointRow | None:
        rows = await self._read(
            f"SELECT {CHECKPOINT_COLUMNS} FROM {CHECKPOINTS} WHERE {WHERE}", (name, version)
        )
        return checkpoint_row(rows[0]) if rows else None

    async def checkpoints(self) -> list[CheckpointRow]:
        rows = await self._read(
            f"SELECT {CHECKPOINT_COLUMNS} FROM {CHECKPOINTS} ORDER BY name, version", ()
        )
        return [checkpoint_row(row) for row in rows]

    async def parked(self, name: str, version: int) -> list[ParkedEvent]:
        rows = await self._read(
            f"SELECT {PARKED_COLUMNS} FROM {PARKED} WHERE {WHERE} ORDER BY parked_at",
            (name, version),
        )
        return [parked_row(row) for row in rows]

    async def parked_summary(self, name: str, version: int) -> tuple[int, bool]:
        rows = await self._read(
            f"SELECT {PARKED_SUMMARY} FROM {PARKED} WHERE {WHERE}", (name, version)
        )
        (row,) = rows
        return int(row[0]), bool(row[1])

    async def update_parked(
        self,
        name: str,
        version: int,
        event_id: UUID,
        *,
        status: ParkedStatus | None = None,
        error: str | None = None,
    ) -> bool:
        params: list[Any]
        if status is not None:
            sql, params = f"UPDATE {PARKED} SET status = ?", [status.value]
        else:
            sql, params = f"UPDATE {PARKED} SET error = ?, attempts = attempts + 1", [error]
        params += [name, version, str(event_id)]
        return await self._write_count(f"{sql} WHERE {WHERE} AND event_id = ?", params) == 1

    async def delete_parked(self, name: str, version: int, event_id: UUID) -> bool:
        sql = f"DELETE FROM {PARKED} WHERE {WHERE} AND event_id = ?"
        return await self._write_count(sql, (name, version, str(event_id))) == 1

    async def reset(
        self, name: str, version: int, ddl: Sequence[str], activate: Sequence[str]
    ) -> None:
        def work(conn: Connection) -> None:
            moved = conn.execute(
                f"UPDATE {CHECKPOINTS} SET position = NULL, epoch = epoch + 1, owner = NULL,"
                " lease_until = 0, last_error = NULL, last_error_at = NULL, updated_at = ?"
                f" WHERE {WHERE}",
                (time.time(), name, version),
            )
            if moved.rowcount != 1:
                raise UnknownProjection(f"{name}@v{version}")
            conn.execute(f"DELETE FROM {PARKED} WHERE {WHERE}", (name, version))
            for statement in ddl:
                conn.execute(statement)
            active = conn.execute(
                f"SELECT active FROM {CHECKPOINTS} WHERE {WHERE}", (name, version)
            )
            if active.fetchone()[0]:
                for statement in activate:
                    conn.execute(statement)

        await self._admin.run(lambda conn: in_write_transaction(conn, work))

    async def activate(self, name: str, version: int, ddl: Sequence[str]) -> None:
        def work(conn: Connection) -> None:
            row = conn.execute(
                f"SELECT retired FROM {CHECKPOINTS} WHERE {WHERE}", (name, version)
            ).fetchone()
            if row is None:
                raise UnknownProjection(f"{name}@v{version}")
            if row[0]:
                raise ProjectionError(f"{name}@v{version} is retired and cannot be activated")
            conn.execute(
                f"UPDATE {CHECKPOINTS} SET active = (version = ?) WHERE name = ?", (version, name)
            )
            # Older builds are done: fence their runners so they stop writing.
            conn.execute(
                f"UPDATE {CHECKPOINTS} SET retired = 1, epoch = epoch + 1, owner = NULL,"
                " lease_until = 0 WHERE name = ? AND version < ? AND NOT retired",
                (name, version),
            )
            for statement in ddl:
                conn.execute(statement)

        await self._admin.run(lambda conn: in_write_transaction(conn, work))

    async def drop(self, name: str, version: int, ddl: Sequence[str]) -> None:
        def work(conn: Connection) -> None:
            row = conn.execute(
                f"SELECT active FROM {CHECKPOINTS} WHERE {WHERE}", (name, version)
            ).fetchone()
            if row is not None and row[0]:
                raise ProjectionError(
                    f"{name}@v{version} is the active build; activate another one first"
                )
            conn.execute(f"DELETE FROM {CHECKPOINTS} WHERE {WHERE}", (name, version))
            conn.execute(f"DELETE FROM {PARKED} WHERE {WHERE}", (name, version))
            for statement in ddl:
                conn.execute(statement)

        await self._admin.run(lambda conn: in_write_transaction(conn, work))

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await self._reader.run(lambda conn: conn.execute(sql, params).fetchall())

    async def close(self) -> None:
        await self._admin.close()
        await self._reader.close()

    async def _read(self, sql: str, params: Sequence[Any]) -> list[Row]:
        return await self._admin.run(lambda conn: conn.execute(sql, params).fetchall())

    async def _write_count(self, sql: str, params: Sequence[Any]) -> int:
        def work(conn: Connection) -> int:
            return conn.execute(sql, params).rowcount

        return await self._admin.run(lambda conn: in_write_transaction(conn, work))
