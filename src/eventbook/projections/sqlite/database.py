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

from eventbook._errors import (
    ModeMismatch,
    PartitionMismatch,
    ProjectionError,
    UnknownProjection,
    ValidationError,
)
from eventbook._store.signal import Wakeup
from eventbook.projections._ports import CheckpointRow, ParkedEvent, ParkedStatus, Row
from eventbook.projections._rows import checkpoint_row, owner_is_dead, parked_row
from eventbook.projections.sqlite.connection import Connection, Worker, in_write_transaction
from eventbook.projections.sqlite.session import SQLiteSession
from eventbook.projections.sqlite.sql import queries


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
        if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, int | float):
            raise ValidationError(f"busy_timeout must be a number of seconds, not {busy_timeout!r}")
        if not 0 <= busy_timeout < float("inf"):
            raise ValidationError(f"busy_timeout must be 0 or more seconds, not {busy_timeout!r}")
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
        q = queries()

        def work(conn: Connection) -> None:
            checkpoint_columns = _columns(conn, "eventbook_projection_checkpoints")
            if checkpoint_columns and "part" not in checkpoint_columns:
                conn.execute(q.migrate_checkpoints)  # set up before partitions: re-key it
                conn.execute(q.create_checkpoints)
                conn.execute(q.copy_old_checkpoints)
                conn.execute(q.drop_old_checkpoints)
            parked_columns = _columns(conn, "eventbook_projection_parked")
            if parked_columns and "part" not in parked_columns:
                conn.execute(q.add_parked_part)
            for statement in (
                q.create_checkpoints,
                q.create_parked,
                q.create_parked_status,
                q.create_members,
            ):
                conn.execute(statement)

        await self._admin.run(lambda conn: in_write_transaction(conn, work))

    async def register(
        self,
        name: str,
        version: int,
        mode: str,
        create: Sequence[str],
        activate: Sequence[str],
        *,
        partitions: int = 1,
    ) -> None:
        q = queries()

        def work(conn: Connection) -> None:
            row = conn.execute(q.build_mode, (name, version)).fetchone()
            if row is not None:
                if row[0] != mode:
                    raise ModeMismatch(name, version, row[0], mode)
                registered = len(conn.execute(q.build_partitions, (name, version)).fetchall())
                if registered != partitions:
                    raise PartitionMismatch(name, version, registered, partitions)
                return
            now = time.time()
            for partition in range(partitions):
                conn.execute(q.insert_build, (name, version, mode, now, partition))
            for statement in create:
                conn.execute(statement)
            if conn.execute(q.active_build, (name,)).fetchone() is None:
                conn.execute(q.mark_active, (name, version))
                for statement in activate:
                    conn.execute(statement)

        await self._admin.run(lambda conn: in_write_transaction(conn, work))

    async def acquire(
        self, name: str, version: int, owner: str, ttl: float, *, partition: int = 0
    ) -> SQLiteSession | None:
        q = queries()
        key = (name, version, partition)

        def work(conn: Connection) -> int | None:
            row = conn.execute(q.lease_holder, key).fetchone()
            if row is None:
                raise UnknownProjection(_label(*key))
            holder, until, epoch, retired = row
            now = time.time()
            if retired:
                return None
            if holder not in (None, owner) and until > now and not owner_is_dead(holder):
                return None
            conn.execute(q.take_lease, (owner, epoch + 1, now + ttl, *key))
            return int(epoch) + 1

        epoch = await self._admin.run(lambda conn: in_write_transaction(conn, work))
        if epoch is None:
            return None
        worker = Worker(self.path, self.busy_timeout, f"projection-{name}")
        return SQLiteSession(
            self, worker, name, version, owner=owner, epoch=epoch, ttl=ttl, partition=partition
        )

    async def session(self, name: str, version: int, *, partition: int = 0) -> SQLiteSession:
        worker = Worker(self.path, self.busy_timeout, f"projection-{name}")
        return SQLiteSession(
            self, worker, name, version, owner=None, epoch=0, ttl=0.0, partition=partition
        )

    async def checkpoint(
        self, name: str, version: int, *, partition: int = 0
    ) -> CheckpointRow | None:
        rows = await self._read(queries().checkpoint, (name, version, partition))
        return checkpoint_row(rows[0]) if rows else None

    async def partitions(self, name: str, version: int) -> list[CheckpointRow]:
        rows = await self._read(queries().build_partitions, (name, version))
        return [checkpoint_row(row) for row in rows]

    async def heartbeat(self, name: str, version: int, owner: str, ttl: float) -> int:
        q = queries()

        def work(conn: Connection) -> int:
            now = time.time()
            conn.execute(q.forget_members, (name, version, now))
            conn.execute(q.heartbeat, (name, version, owner, now + ttl))
            return int(conn.execute(q.live_members, (name, version, now)).fetchone()[0])

        return await self._admin.run(lambda conn: in_write_transaction(conn, work))

    async def leave(self, name: str, version: int, owner: str) -> None:
        await self._write_count(queries().leave, (name, version, owner))

    async def checkpoints(self) -> list[CheckpointRow]:
        return [checkpoint_row(row) for row in await self._read(queries().checkpoints, ())]

    async def parked(self, name: str, version: int) -> list[ParkedEvent]:
        return [parked_row(row) for row in await self._read(queries().parked, (name, version))]

    async def parked_summary(self, name: str, version: int) -> tuple[int, bool]:
        (row,) = await self._read(queries().parked_summary, (name, version))
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
        q = queries()
        key = (name, version, str(event_id))
        if status is not None:
            return await self._write_count(q.set_parked_status, (status.value, *key)) == 1
        return await self._write_count(q.count_parked_attempt, (error, *key)) == 1

    async def delete_parked(self, name: str, version: int, event_id: UUID) -> bool:
        key = (name, version, str(event_id))
        return await self._write_count(queries().delete_parked, key) == 1

    async def reset(
        self, name: str, version: int, ddl: Sequence[str], activate: Sequence[str]
    ) -> None:
        q = queries()

        def work(conn: Connection) -> None:
            if conn.execute(q.reset_build, (time.time(), name, version)).rowcount == 0:
                raise UnknownProjection(f"{name}@v{version}")
            conn.execute(q.delete_build_parked, (name, version))
            for statement in ddl:
                conn.execute(statement)
            if conn.execute(q.build_flags, (name, version)).fetchone()[0]:
                for statement in activate:
                    conn.execute(statement)

        await self._admin.run(lambda conn: in_write_transaction(conn, work))

    async def activate(self, name: str, version: int, ddl: Sequence[str]) -> None:
        q = queries()

        def work(conn: Connection) -> None:
            row = conn.execute(q.build_flags, (name, version)).fetchone()
            if row is None:
                raise UnknownProjection(f"{name}@v{version}")
            if row[1]:
                raise ProjectionError(f"{name}@v{version} is retired and cannot be activated")
            conn.execute(q.switch_active, (version, name))
            conn.execute(q.retire_older, (name, version))
            for statement in ddl:
                conn.execute(statement)

        await self._admin.run(lambda conn: in_write_transaction(conn, work))

    async def drop(self, name: str, version: int, ddl: Sequence[str]) -> None:
        q = queries()

        def work(conn: Connection) -> None:
            row = conn.execute(q.build_flags, (name, version)).fetchone()
            if row is not None and row[0]:
                raise ProjectionError(
                    f"{name}@v{version} is the active build; activate another one first"
                )
            conn.execute(q.delete_build, (name, version))
            conn.execute(q.delete_build_parked, (name, version))
            conn.execute(q.delete_build_members, (name, version))
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


def _columns(conn: Connection, table: str) -> set[str]:
    return {row[0] for row in conn.execute(queries().table_columns, (table,)).fetchall()}


def _label(name: str, version: int, partition: int) -> str:
    return f"{name}@v{version}" if partition == 0 else f"{name}@v{version}#{partition}"
